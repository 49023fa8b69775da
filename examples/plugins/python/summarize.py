#!/usr/bin/python3
"""An example Herald agent plugin in Python: the agent "summarize" counts the
words and lines of the text in its payload and names its most frequent
words, reporting progress line by line.

Its payload is {"text": "...", "pace": 0.25}: text is required; pace,
optional, waits that many seconds before each line, to stand in for slow
work (the wait ends early when the run is cancelled). Its output is
{"words": 4, "lines": 3, "top": ["two", ...]}.

The shebang names Debian's interpreter, which python3-grpcio and
python3-protobuf are installed for. Point a Herald host at this file (it must
be executable; herald_plugin.py and gen/ must stay beside it):

    plugins.Plugin{Path: "examples/plugins/python/summarize.py"}
"""

import collections
import json
import logging

import herald_plugin

log = logging.getLogger("summarize")


def summarize(ctx: herald_plugin.Context, task: herald_plugin.Task) -> herald_plugin.Result:
    """counts the words and lines of a text and names its most frequent words"""
    try:
        payload = json.loads(task.payload or b"{}")
    except ValueError as e:
        raise herald_plugin.Permanent(f"summarize: bad payload: {e}") from e
    if not isinstance(payload, dict):
        raise herald_plugin.Permanent("summarize: bad payload: want a JSON object")
    text, pace = payload.get("text"), payload.get("pace", 0)
    if not isinstance(text, str) or not text.strip():
        raise herald_plugin.Permanent("summarize: the payload has no text")
    if not isinstance(pace, (int, float)) or isinstance(pace, bool) or pace < 0:
        raise herald_plugin.Permanent(f"summarize: bad pace {pace!r}, want seconds")

    lines = words = 0
    counts: collections.Counter = collections.Counter()
    for line in text.splitlines():
        try:
            if pace:
                ctx.sleep(pace)
            else:
                ctx.check()
        except herald_plugin.Cancelled as e:
            log.info("run %s %s after %d lines", task.run_id, "timed out" if e.deadline_exceeded else "cancelled", lines)
            raise
        lines += 1
        ws = line.split()
        words += len(ws)
        counts.update(w.lower() for w in ws)
        task.progress({"lines": lines, "words": words})

    top = [w for w, _ in counts.most_common(3)]
    return herald_plugin.Result(
        output={"words": words, "lines": lines, "top": top},
        summary=f"{words} words in {lines} lines",
    )


if __name__ == "__main__":
    herald_plugin.serve({"summarize": summarize})
