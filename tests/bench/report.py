#!/usr/bin/env python3
"""The benchmark's table: Relman's figures beside the baseline's, the ratios and the targets.

Usage: report.py RUN_DIR REPS [SMALL_RUN_DIR]   (written by tests/bench/run)
"""
import glob
import os
import re
import statistics
import sys

out, reps = sys.argv[1], int(sys.argv[2])
small = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None


def ms(v):
    m = re.match(r'([\d.]+)(us|ms|s|m)$', v)
    return float(m.group(1)) * {'us': 1e-3, 'ms': 1, 's': 1e3, 'm': 6e4}[m.group(2)]


def runs(d, name):
    rps, p50, p99, errs = [], [], [], []
    for f in sorted(glob.glob(f'{d}/{name}.*.txt')):
        t = open(f).read()
        rps.append(float(re.search(r'Requests/sec:\s+([\d.]+)', t).group(1)))
        p50.append(ms(re.search(r'^\s+50%\s+(\S+)', t, re.M).group(1)))
        p99.append(ms(re.search(r'^\s+99%\s+(\S+)', t, re.M).group(1)))
        e = re.search(r'Non-2xx or 3xx responses: (\d+)', t)
        s = re.search(r'Socket errors: (.*)', t)
        if e or s:
            errs.append((e.group(0) if e else '') + ' ' + (s.group(0) if s else ''))
    if not rps:
        return None
    med = statistics.median
    return {'rps': med(rps), 'p50': med(p50), 'p99': med(p99), 'errs': '; '.join(errs)}


def kv(path):
    d = {}
    if os.path.exists(path):
        for line in open(path):
            k, _, v = line.strip().partition(' ')
            d[k] = v
    return d


meta, rss = kv(f'{out}/meta.txt'), kv(f'{out}/rss.txt')
base = runs(f'{out}/baseline', 'list')
brss = kv(f'{out}/baseline/rss.txt').get('rss_after_list', '?')
small_runs = {n: runs(f'{small}/relman', n) for n in ('list', 'release')} if small else {}
names = [line.split()[0] for line in open(f'{out}/endpoints.txt')]
paths = dict(line.split(None, 1) for line in open(f'{out}/endpoints.txt'))
share = {'list': 0.50, 'list_deep': 0.50, 'release': 0.35, 'dashboard': 0.35, 'calendar': 0.20}

print(f"Relman at {meta.get('releases')} releases, {meta.get('date')}; {meta.get('machine')}")
print(f"wrk -t2 -c32 -d10s --latency (medians of {reps}); transitions -c16. Baseline /list?phase=build in the same run: "
      f"{base['rps']:.0f} req/s, p50 {base['p50']:.2f} ms, p99 {base['p99']:.2f} ms, RSS {brss} MiB" if base else "no baseline figures")
hdr = f"{'endpoint':<12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'RSS MiB':>9}{'vs base':>9}  target"
print(hdr)
print('-' * 78)
fails = []
for n in names:
    r = runs(f'{out}/relman', n)
    if not r:
        continue
    ratio = r['rps'] / base['rps'] if base else 0
    target, ok = '', True
    if n in share and base:
        ok = ratio >= share[n]
        target = f">= {share[n]:.0%} of baseline req/s"
        if n in ('list', 'list_deep'):
            ok = ok and r['p99'] <= 2 * base['p99']
            target += f", p99 <= {2 * base['p99']:.1f} ms"
    if n == 'report':
        ok = r['p99'] <= 500
        target = 'p99 <= 500 ms'
    if n == 'csv':
        before = float(rss.get('rss_after_report', 0) or 0)
        after = float(rss.get('rss_after_csv', 0) or 0)
        ok = after - before <= 8
        target = f"memory flat ({meta.get('csv_rows')} rows): RSS {before:.1f} -> {after:.1f} MiB"
    if n in small_runs and small_runs[n]:
        limit = 1.5 * small_runs[n]['p50']
        ok = ok and r['p50'] <= limit
        target += f"; p50 <= {limit:.2f} ms (1.5x at 10k)"
    if r['rps'] == 0:
        ok, target = False, target + ' (no request completed)'
    if not ok:
        fails.append(n)
    print(f"{n:<12}{r['rps']:>9.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{rss.get('rss_after_' + n, '?'):>9}{ratio:>8.0%}   "
          f"{'ok  ' if ok else 'MISS'} {target}{'  errors: ' + r['errs'] if r['errs'] else ''}")
r = runs(f'{out}/relman', 'transitions')
if r:
    rates = []
    for f in sorted(glob.glob(f'{out}/relman/transitions.*.txt')):
        m = re.search(r'committed (\d+) seconds ([\d.]+)', open(f).read())
        rates.append(int(m.group(1)) / float(m.group(2)) if m else 0)
    per_s = statistics.median(rates)
    ok = per_s >= 500
    if not ok:
        fails.append('transitions')
    each = ', '.join(f'{x:.0f}' for x in rates)
    print(f"{'transitions':<12}{r['rps']:>9.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{rss.get('rss_after_transitions', '?'):>9}{'':>9}   "
          f"{'ok  ' if ok else 'MISS'} >= 500 committed/s: {per_s:.0f}/s (runs: {each}){'  errors: ' + r['errs'] if r['errs'] else ''}")
    if base:
        # The only absolute target. The issue measured its baseline at 6,062 req/s; this
        # machine's speed drifts (the same baseline: 7,559 to 2,438 req/s), so the rate is also
        # shown at the speed, for reading: the verdict above stays on the absolute 500/s.
        print(f"{'':<12}{'':>45}   at the issue's baseline speed (6,062 req/s, {6062 / base['rps']:.2f}x this run's): "
              f"{per_s * 6062 / base['rps']:.0f}/s")
end = float(rss.get('rss_end', 0) or 0)
print(f"{'RSS at end':<12}{'':>36}{end:>9.1f}{'':>9}   {'ok  ' if end <= 64 else 'MISS'} <= 64 MiB after the whole benchmark")
if end > 64:
    fails.append('rss')
print('paths: ' + ', '.join(f'{n} {paths[n].strip()}' for n in names))
print('targets missed: ' + (', '.join(fails) if fails else 'none'))
