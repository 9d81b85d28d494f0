"""Reads the benchmark tools' output and prints compare.sh's tables.

    python3 compare.py ours JSON RSS_KIB                  -> iops mib/s p50 p99 cpu% rss_kib   (nbd bench --json)
    python3 compare.py ours-many JSON RSS_KIB             -> iops p50 p99 rss_kib
    python3 compare.py fio JSON RSS_KIB                   -> the same, from fio's JSON (group_reporting: jobs[0])
    python3 compare.py fio-many JSON RSS_KIB LOGS SECONDS -> iops p50 p99 rss_kib own_iops spread_s window_s
    python3 compare.py header KIND PEER
    python3 compare.py row KIND LABEL PEER RESULTS

KIND is bench, many or copy. RESULTS has one line per run, `ROUND WHO VALUE...` (WHO is ours or the peer), the
values in the order printed above (copy: wall_s cpu_s server_s rss_kib). A row prints the medians of each side, the
ratio ours / peer of the first value (the median of the pairs, then each pair's in round order) and the ratio of the
medians of the others.

fio-many: fio's jobs each start measuring when their own connection is up and their own ramp is over, so with many
jobs their windows are staggered (see compare.sh). LOGS is the prefix of the jobs' IOPS logs (write_iops_log with
log_unix_epoch and log_avg_msec); from them this takes the window in which every job was measuring, at most SECONDS
long from its start, and sums each job's mean IOPS over it: the aggregate rate with all connections running, which
is what nbd bench measures. own_iops is fio's own aggregate (every job's I/O over its own window, divided by the
longest job's runtime); spread_s is how far apart the jobs' windows began; window_s the length of the common window
(0 when there was none: then iops is fio's own figure).
"""
import glob
import json
import statistics as st
import sys

AVG_MS = 500  # compare.sh's log_avg_msec


def fio_job(path):
    with open(path) as f:
        text = f.read()
    j = json.loads(text[text.index("{"):])["jobs"][0]  # the nbd engine's "connected" lines come first
    k = "read" if j["read"]["io_bytes"] > 0 else "write"
    return j, j[k]


def pct(d, p):
    return d["clat_ns"]["percentile"][f"{p:.6f}"] / 1000


def bench_json(path):
    with open(path) as f:
        d = json.load(f)
    return d, d["read"] if "read" in d else d["write"]


def ours(path, rss):
    d, r = bench_json(path)
    lat = r["latency_us"]
    print(r["iops"], r["mib_per_s"], lat["p50"], lat["p99"], d["cpu_percent"], rss)


def ours_many(path, rss):
    _, r = bench_json(path)
    print(r["iops"], r["latency_us"]["p50"], r["latency_us"]["p99"], rss)


def fio(path, rss):
    j, r = fio_job(path)
    print(r["iops"], r["bw_bytes"] / 1048576, pct(r, 50), pct(r, 99), j["usr_cpu"] + j["sys_cpu"], rss)


def fio_many(path, rss, logs, seconds):
    _, r = fio_job(path)
    jobs = []
    for name in glob.glob(logs + "_iops.*.log"):
        with open(name) as f:
            samples = [(int(t), float(v)) for t, v, *_ in (line.split(",") for line in f if line.strip())]
        if samples:
            jobs.append(samples)
    iops, spread, window = r["iops"], 0.0, 0.0
    if jobs:
        starts = [s[0][0] - AVG_MS for s in jobs]
        spread = (max(starts) - min(starts)) / 1000
        a = max(starts)
        b = min(min(s[-1][0] for s in jobs), a + int(float(seconds) * 1000))
        inside = [[v for t, v in s if t - AVG_MS >= a and t <= b] for s in jobs]
        if b - a >= AVG_MS and all(inside):
            iops, window = sum(st.mean(v) for v in inside), (b - a) / 1000
    print(iops, pct(r, 50), pct(r, 99), rss, r["iops"], spread, window)


def k(x):
    return f"{x / 1000:.1f}k" if x >= 10000 else f"{x:.0f}"


def mib(kib):
    return f"{kib / 1024:.0f}"


def pair(o, p, fmt, ratio=True):
    """`ours / peer (ratio)`, the medians."""
    s = f"{fmt(o)} / {fmt(p)}"
    return s + (f" ({o / p:.2f})" if ratio and p else "")


COLUMNS = {
    "bench": ["row", "ours IOPS", "{peer} IOPS", "ratio median (pairs)", "MiB/s ours / {peer}",
              "p50 us ours / {peer}", "p99 us ours / {peer}", "CPU % ours / {peer}", "RSS MiB ours / {peer}"],
    "many": ["row", "ours IOPS (min-max)", "{peer} IOPS, all jobs running (min-max)", "ratio median (pairs)",
             "{peer}'s own IOPS", "{peer}'s job start spread s: median, max (shortest common window s)", "p50 us ours / {peer}",
             "p99 us ours / {peer}", "RSS MiB ours / {peer}"],
    "copy": ["row", "ours wall s", "{peer} wall s", "ratio median (pairs)", "CPU s ours / {peer}",
             "server CPU s ours / {peer}", "RSS MiB ours / {peer}"],
}


def header(kind, peer):
    cols = [c.format(peer=peer) for c in COLUMNS[kind]]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))


def row(kind, label, peer, path):
    runs = {"ours": {}, peer: {}}
    with open(path) as f:
        for line in f:
            r, who, *values = line.split()
            runs[who][int(r)] = [float(v) for v in values]
    o, p = runs["ours"], runs[peer]
    rounds = sorted(set(o) & set(p))
    # A many row's pair counts only if all of the peer's jobs ran together for a while (a common window): otherwise
    # its figure is fio's own, over jobs' windows of which some had the server to fewer connections.
    windowless = [r for r in rounds if kind == "many" and p[r][6] <= 0]
    ratios = [o[r][0] / p[r][0] for r in rounds if p[r][0] and r not in windowless]
    ratio = f"{st.median(ratios):.2f} ({' '.join(f'{x:.2f}' for x in ratios)})" if ratios else "-"
    if windowless:
        ratio += (f"; {len(windowless)} of {len(rounds)} pairs left out: {peer}'s jobs never all ran at once"
                  " (raise --many-slack)")

    def med(side, i):
        return st.median(v[i] for v in side.values())

    def spread(side, i):
        vals = [v[i] for v in side.values()]
        return f"{k(st.median(vals))} ({k(min(vals))}-{k(max(vals))})"

    if kind == "bench":
        cells = [k(med(o, 0)), k(med(p, 0)), ratio, pair(med(o, 1), med(p, 1), lambda x: f"{x:.1f}", False),
                 pair(med(o, 2), med(p, 2), lambda x: f"{x:.0f}"), pair(med(o, 3), med(p, 3), lambda x: f"{x:.0f}"),
                 pair(med(o, 4), med(p, 4), lambda x: f"{x:.0f}", False), pair(med(o, 5), med(p, 5), mib)]
    elif kind == "many":
        windows = [v[6] for v in p.values()]
        held = {r: v for r, v in p.items() if r not in windowless}
        cells = [spread(o, 0), spread(held, 0) if held else "-", ratio, k(med(p, 4)),
                 f"{med(p, 5):.1f}, {max(v[5] for v in p.values()):.1f} ({min(windows):.1f})",
                 pair(med(o, 1), med(p, 1), lambda x: f"{x:.0f}"), pair(med(o, 2), med(p, 2), lambda x: f"{x:.0f}"),
                 pair(med(o, 3), med(p, 3), mib)]
    else:
        cells = [f"{med(o, 0):.2f}", f"{med(p, 0):.2f}", ratio, pair(med(o, 1), med(p, 1), lambda x: f"{x:.2f}"),
                 pair(med(o, 2), med(p, 2), lambda x: f"{x:.2f}"), pair(med(o, 3), med(p, 3), mib)]
    print("| " + " | ".join([label] + cells) + " |", flush=True)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"ours": ours, "ours-many": ours_many, "fio": fio, "fio-many": fio_many, "header": header, "row": row}[cmd](*args)
