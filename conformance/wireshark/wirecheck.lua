-- wirecheck.lua: shows wirecheck's verdicts as Wireshark's own.
--
-- `wirecheck run` and `wirecheck check --write` put each verdict into the
-- packet comments of the frames it is about. This postdissector parses those
-- comments (the grammar is the stable contract documented in
-- conformance/RULES.md, "Packet comments") into fields, a tree, expert info
-- and a column:
--
--   wirecheck.rule      rule id ("tcp.no_rst") or expectation ("expect ...")
--   wirecheck.verdict   pass, fail, warn, info or n/a (one per verdict line)
--   wirecheck.text      what was checked and seen
--   wirecheck.expected, wirecheck.seen   a failure's two halves
--   wirecheck.case      the case name of "wirecheck case NAME (FILE): RESULT"
--   wirecheck.case_file, wirecheck.case_result
--   wirecheck.expect    a case expectation ("expect client-exit 0: ...: fail")
--   wirecheck.duplicate_of  frame N of "capture duplicate of frame N: not judged"
--   wirecheck.worst     the worst verdict of the frame
--   wirecheck.summary   worst verdict and its rules, for the "wirecheck" column
--
-- Expert info: error for fail, warning for warn, note for info, chat for pass.
--
--   tshark -X lua_script:wirecheck.lua -r run.pcapng -Y 'wirecheck.verdict == "fail"'
--
-- Lua 5.2 (Wireshark 3.x/4.0) and 5.4 (4.2+).

local wc = Proto("wirecheck", "wirecheck verdicts")

local F = {
    rule = ProtoField.string("wirecheck.rule", "Rule"),
    verdict = ProtoField.string("wirecheck.verdict", "Verdict"),
    text = ProtoField.string("wirecheck.text", "Text"),
    expected = ProtoField.string("wirecheck.expected", "Expected"),
    seen = ProtoField.string("wirecheck.seen", "Seen"),
    case = ProtoField.string("wirecheck.case", "Case"),
    case_file = ProtoField.string("wirecheck.case_file", "Case file"),
    case_result = ProtoField.string("wirecheck.case_result", "Case result"),
    expect = ProtoField.string("wirecheck.expect", "Case expectation"),
    duplicate_of = ProtoField.framenum("wirecheck.duplicate_of", "Capture duplicate of frame"),
    worst = ProtoField.string("wirecheck.worst", "Worst verdict"),
    summary = ProtoField.string("wirecheck.summary", "Summary"),
    line = ProtoField.string("wirecheck.line", "Comment line"),
}
wc.fields = {
    F.rule, F.verdict, F.text, F.expected, F.seen, F.case, F.case_file, F.case_result,
    F.expect, F.duplicate_of, F.worst, F.summary, F.line,
}

local E = {
    fail = ProtoExpert.new("wirecheck.fail", "wirecheck: rule failed",
                           expert.group.PROTOCOL, expert.severity.ERROR),
    warn = ProtoExpert.new("wirecheck.warn", "wirecheck: warning",
                           expert.group.PROTOCOL, expert.severity.WARN),
    info = ProtoExpert.new("wirecheck.info", "wirecheck: observation",
                           expert.group.PROTOCOL, expert.severity.NOTE),
    pass = ProtoExpert.new("wirecheck.pass", "wirecheck: rule passed",
                           expert.group.PROTOCOL, expert.severity.CHAT),
}
wc.experts = { E.fail, E.warn, E.info, E.pass }

local comment_field = Field.new("frame.comment")

-- Severity order: what "worst" means.
local RANK = { ["n/a"] = 0, pass = 1, info = 2, warn = 3, fail = 4 }
-- Spellings a line may use for a verdict word (case-insensitive).
local WORDS = {
    pass = "pass", fail = "fail", warn = "warn", warning = "warn", info = "info",
    seen = "info", ["n/a"] = "n/a", na = "n/a", error = "fail",
}

local function verdict_word(w)
    return w and WORDS[w:lower()]
end

-- One comment line -> a table {kind = "case"|"duplicate"|"verdict", ...}
-- or nil for a line that is not wirecheck's.
local function parse_line(line)
    local name, file, result = line:match("^wirecheck case (.-) %((.-)%): (%S+)$")
    if name then
        local v = verdict_word(result) or "fail"
        return { kind = "case", case = name, file = file, result = result:lower(),
                 verdict = v, text = "case " .. name .. " (" .. file .. "): " .. result }
    end
    local orig = line:match("^capture duplicate of frame (%d+): not judged$")
    if orig then
        return { kind = "duplicate", original = tonumber(orig), verdict = "n/a",
                 text = line }
    end
    local label, rest = line:match("^(.-): (.*)$")
    if not label or label == "" then
        return nil
    end
    local text, exp, seen = rest:match("^(.*): fail %(expected (.-); seen (.*)%)$")
    local v
    if text then
        v = "fail"
    else
        local word
        text, word = rest:match("^(.*): (%S+)$")
        v = verdict_word(word)
        if not v then
            -- "rule.id: verdict" without text
            v = verdict_word(rest)
            if not v then
                return nil
            end
            text = ""
        end
    end
    local r = { kind = "verdict", rule = label, verdict = v, text = text,
                expected = exp, seen = seen }
    if label:match("^expect ") then
        r.expect = label:sub(8)
    elseif not label:match("^[%w_%.%-]+$") then
        return nil -- a user's own comment that happens to contain ": "
    end
    return r
end

-- Every wirecheck line of the frame's comments (a comment may hold several
-- lines joined by "\n").
local function frame_lines()
    local out = {}
    for _, fi in ipairs({ comment_field() }) do
        local s = tostring(fi.value or "")
        for line in (s .. "\n"):gmatch("([^\n]*)\n") do
            line = line:gsub("\r$", "")
            local p = parse_line(line)
            if p then
                p.line = line
                out[#out + 1] = p
            end
        end
    end
    return out
end

-- The worst verdict, and the column text: a frame with a fail or a warn
-- names those rules first ("fail tcp.no_rst | 1 pass, 1 info"); any other
-- frame only counts its verdicts ("3 pass, 1 info"), so the column stands
-- out where something went wrong.
local function item_name(p)
    if p.kind == "case" then
        return "case " .. p.case
    elseif p.kind == "duplicate" then
        return "duplicate of " .. p.original
    end
    return p.rule
end

local function summarize(items)
    local worst = "n/a"
    for _, p in ipairs(items) do
        if RANK[p.verdict] > RANK[worst] then
            worst = p.verdict
        end
    end
    local named = RANK[worst] >= RANK.warn
    local names, counts = {}, {}
    for _, p in ipairs(items) do
        if named and p.verdict == worst then
            names[#names + 1] = item_name(p)
        elseif p.kind == "duplicate" then
            names[#names + 1] = item_name(p)
        else
            counts[p.verdict] = (counts[p.verdict] or 0) + 1
        end
    end
    local others = {}
    for _, v in ipairs({ "fail", "warn", "pass", "info", "n/a" }) do
        if counts[v] then
            others[#others + 1] = counts[v] .. " " .. v
        end
    end
    local s = table.concat(others, ", ")
    if #names > 0 then
        local head = (named and worst .. " " or "") .. table.concat(names, ", ")
        s = #others > 0 and head .. " | " .. s or head
    end
    return worst, s
end

function wc.dissector(tvb, pinfo, tree)
    local items = frame_lines()
    if #items == 0 then
        return
    end
    local worst, summary = summarize(items)
    local top = tree:add(wc, tvb(0, 0), "wirecheck: " .. summary)
    top:add(F.worst, worst):set_generated()
    top:add(F.summary, summary):set_generated()
    for _, p in ipairs(items) do
        local label
        if p.kind == "case" then
            label = "Case " .. p.case .. " (" .. p.file .. "): " .. p.result
        elseif p.kind == "duplicate" then
            label = "Capture duplicate of frame " .. p.original .. ": not judged"
        else
            label = p.verdict .. "  " .. p.rule .. ": " .. p.text
        end
        local t = top:add(wc, tvb(0, 0), label)
        t:add(F.verdict, p.verdict):set_generated()
        if p.kind == "case" then
            t:add(F.case, p.case):set_generated()
            t:add(F.case_file, p.file):set_generated()
            t:add(F.case_result, p.result):set_generated()
        elseif p.kind == "duplicate" then
            t:add(F.duplicate_of, p.original):set_generated()
        else
            t:add(F.rule, p.rule):set_generated()
            if p.expect then
                t:add(F.expect, p.expect):set_generated()
            end
            t:add(F.text, p.text):set_generated()
            if p.expected then
                t:add(F.expected, p.expected):set_generated()
                t:add(F.seen, p.seen):set_generated()
            end
        end
        t:add(F.line, p.line):set_generated()
        local e = E[p.verdict]
        if e then
            t:add_proto_expert_info(e, p.line)
        end
    end
end

register_postdissector(wc)
