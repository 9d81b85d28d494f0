"""Summarises alternating benchmark rounds, for transports.sh.

    python3 rounds.py LABEL PEER RESULTS FIELD...

RESULTS has one line per run, `ROUND WHO VALUE...`, the values in the order of the FIELDs; a FIELD is
`name:format:unit` (`IOPS:.0f:`, `wall:.2f:s`, `p99:.0f: us`). Prints the peer's medians, then for each other side
its medians, the ratio of its first value to the peer's of the same round (the median, then round by round), and the
ratio of its medians of the other values to the peer's.
"""
import collections
import statistics as st
import sys


def main(label, peer, path, specs):
    fields = [spec.split(":", 2) for spec in specs]
    runs = collections.defaultdict(dict)
    with open(path) as f:
        for line in f:
            r, who, *values = line.split()
            runs[who][int(r)] = [float(v) for v in values]
    theirs = runs.pop(peer)

    def medians(rs):
        return [st.median(v[i] for v in rs.values()) for i in range(len(fields))]

    def show(ms):
        return " ".join(f"{name} {m:{fmt}}{unit}" for (name, fmt, unit), m in zip(fields, ms))

    pm = medians(theirs)
    print(f"{label}: {peer} median {show(pm)}")
    for who, rs in runs.items():
        ratios = [rs[r][0] / theirs[r][0] for r in sorted(rs)]
        om = medians(rs)
        more = "".join(f", {name} {m / p:.2f}" for (name, _, _), m, p in zip(fields[1:], om[1:], pm[1:]))
        print(f"  {who:9} {show(om)} | vs {peer}: {fields[0][0]} median {st.median(ratios):.2f}"
              f" (rounds {' '.join(f'{x:.2f}' for x in ratios)}){more}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
