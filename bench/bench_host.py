"""Whole runs of the host program, as the systemd timer starts it, against a floor measured in the same run.

In a private network namespace (iptables-nft; a veth with IPv4 and IPv6 addresses and default routes, so the run
looks up the node's subnets as on a real node) this times whole process runs of
    bin/ip-masq-agent sync --config FILE --lock-file FILE
started through the file itself (its shebang runs the distribution's `python3 -I`), PATH=/usr/sbin:/usr/bin:/sbin:/bin:
  converge  the nat table flushed and the record of the last sync deleted before each run (a first sync);
  no-op     already in sync (one read, nothing written).
The floor is what any Python program that reads the rules pays: `python3 -c pass`, then one `iptables-save -t nat`
process (with the chain of that size in place). Rounds interleave floor, no-op and converge, so the load of the
machine weighs on each alike; every figure is a median, and a ratio to the floor of the same run.

In the same rounds, other engine packages: the package as the role installs it (a copy the service cannot write, as
under ProtectSystem=strict, so no run saves its bytecode), the same with bytecode compiled once beforehand, and any
--lib NAME=DIR (a change measured before it is made). Then, for the no-op run: `python3 -X importtime` (which modules
cost most; medians of a few runs) and a breakdown of one run in-process (imports, each command the run starts, the
rest). Nothing here fails on a ratio: it reports.
Usage (root): bench/bench_host.py [--sizes 60,1000] [--runs 9] [--lib NAME=DIR ...]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(ROOT, 'bin', 'ip-masq-agent')
LIB = os.path.join(ROOT, 'plugins', 'module_utils')
PATH = '/usr/sbin:/usr/bin:/sbin:/bin'
NODE = (('10.0.0.10/24', '10.0.0.1'), ('2001:db8::10/64', '2001:db8::1'))  # 10.0.0.0/24 is the first CIDR

# One run in-process: the eager imports, then main() with a runner that times each command.
PROBE = r'''
import io, json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
from ipmasq import cli
t1 = time.perf_counter()
eager = set(sys.modules)
calls = []
def runner(argv, data=None):
    t = time.perf_counter()
    result = cli.subprocess_runner(argv, data, timeout=120)
    calls.append([' '.join([argv[0].rsplit('/', 1)[-1]] + argv[1:]), time.perf_counter() - t])
    return result
out, err = io.StringIO(), io.StringIO()
rc = cli.main(sys.argv[2:], runner=runner, out=out, err=err)
t2 = time.perf_counter()
print(json.dumps({'rc': rc, 'out': out.getvalue(), 'err': err.getvalue(), 'imports': t1 - t0, 'main': t2 - t1,
                  'calls': calls, 'lazy': sorted(m for m in set(sys.modules) - eager if '.' not in m)}))
'''


def cidrs(n):
    return ['10.%d.%d.0/24' % (i // 256, i % 256) for i in range(n)]


def run(argv, env=None, check=True, data=None):
    proc = subprocess.run(argv, input=data, capture_output=True, text=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise SystemExit('%s failed (rc=%d):\n%s%s' % (' '.join(argv), proc.returncode, proc.stdout, proc.stderr))
    return proc


def timed(argv, env):
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit('%s failed (rc=%d):\n%s%s' % (' '.join(argv), proc.returncode, proc.stdout, proc.stderr))
    return elapsed, proc


def ms(values):
    return 1000 * statistics.median(values)


# --- outside: the namespace --------------------------------------------------------------------------------------

def outer(args):
    if os.geteuid() != 0:
        raise SystemExit('bench_host.py needs root (ip netns add)')
    name = 'ipmh-' + uuid.uuid4().hex[:8]
    run(['ip', 'netns', 'add', name])
    try:
        ns = ['ip', 'netns', 'exec', name]
        run(ns + ['ip', 'link', 'set', 'lo', 'up'])
        run(ns + ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1'])
        (addr4, gw4), (addr6, gw6) = NODE
        run(ns + ['ip', 'addr', 'add', addr4, 'dev', 'eth0'])
        run(ns + ['ip', '-6', 'addr', 'add', addr6, 'dev', 'eth0', 'nodad'])
        for dev in ('eth0', 'eth1'):
            run(ns + ['ip', 'link', 'set', dev, 'up'])
        run(ns + ['ip', 'route', 'add', 'default', 'via', gw4])
        run(ns + ['ip', '-6', 'route', 'add', 'default', 'via', gw6])
        proc = subprocess.run(ns + [sys.executable, os.path.abspath(__file__), '--inner'] + args, check=False)
        return proc.returncode
    finally:
        subprocess.run(['ip', 'netns', 'del', name], check=False)


# --- inside the namespace ----------------------------------------------------------------------------------------

class Variant(object):
    """The engine package a run uses: the checkout's, or another directory (IPMASQ_AGENT_LIB)."""

    def __init__(self, name, lib, env):
        self.name = name
        self.lib = lib
        self.env = dict(env, IPMASQ_AGENT_LIB=lib) if lib != LIB else env


class Case(object):
    """One list size: its config file (the text the role writes: ip_masq_config, format yaml), lock and times."""

    def __init__(self, n, tmp, env):
        self.n = n
        self.env = env
        self.config = os.path.join(tmp, 'config-%d' % n)
        self.lock = os.path.join(tmp, 'agent-%d.lock' % n)
        self.record = os.path.splitext(self.lock)[0] + '.state'
        from ipmasq import configfile
        with open(self.config, 'w') as f:
            f.write(configfile.dump({'nonMasqueradeCIDRs': cidrs(n), 'cidrLimit': max(n, 64),
                                     'masqLinkLocal': False, 'resyncInterval': '60s'}))
        self.argv = [AGENT, 'sync', '--config', self.config, '--lock-file', self.lock]
        self.times = {}

    def reset(self):
        for opt in ('-F', '-X'):
            run(['iptables', '-t', 'nat', opt], env=self.env)
        if os.path.exists(self.record):
            os.unlink(self.record)

    def sync(self, variant, expect):
        elapsed, proc = timed(self.argv, variant.env)
        if expect not in proc.stdout:
            raise SystemExit('expected %r from %s (%s), got:\n%s%s'
                             % (expect, ' '.join(self.argv), variant.name, proc.stdout, proc.stderr))
        return elapsed

    def floor(self, python, save):
        start = time.perf_counter()
        timed([python, '-c', 'pass'], self.env)
        timed([save, '-t', 'nat'], self.env)
        return time.perf_counter() - start

    def round(self, python, save, variants):
        """The floor, then each variant's no-op and converge (the state is in sync again after each converge)."""
        self.times.setdefault('floor', []).append(self.floor(python, save))
        for v in variants:
            self.times.setdefault((v.name, 'noop'), []).append(self.sync(v, 'in sync, nothing written'))
            self.reset()
            self.times.setdefault((v.name, 'converge'), []).append(self.sync(v, 'changed'))

    def median(self, key):
        return ms(self.times[key])


def importtime(case, variant, python, repeat):
    """{module: (median self µs, median cumulative µs, depth)} of the no-op run's own imports (after `site`)."""
    case.sync(variant, '')
    seen = {}
    for _i in range(repeat):
        proc = run([python, '-I', '-X', 'importtime'] + case.argv, env=variant.env)
        started = False
        for line in proc.stderr.splitlines():
            if not line.startswith('import time:') or 'cumulative' in line:
                continue
            own, cumulative, name = line[len('import time:'):].split('|')
            depth = (len(name) - len(name.lstrip(' ')) - 1) // 2
            name = name.strip()
            if started:
                seen.setdefault(name, []).append((int(own), int(cumulative), depth))
            elif name == 'site' and depth == 0:
                started = True
    return dict((k, (statistics.median(v[0] for v in vs), statistics.median(v[1] for v in vs), vs[0][2]))
                for k, vs in seen.items() if len(vs) * 2 > repeat)


def probe(case, variant, python, repeat):
    """One no-op run in-process, ``repeat`` times: eager imports, main(), each command main() starts (medians)."""
    case.sync(variant, '')  # the chain of this size in place
    results = []
    for _i in range(repeat):
        proc = run([python, '-I', '-c', PROBE, variant.lib] + case.argv[1:], env=variant.env)
        data = json.loads(proc.stdout)
        if data['rc'] != 0 or 'in sync, nothing written' not in data['out']:
            raise SystemExit('probe: not a no-op: %r' % data)
        results.append(data)
    calls = {}
    for data in results:
        for i, (cmd, t) in enumerate(data['calls']):
            calls.setdefault((i, cmd), []).append(t)
    return {'imports': ms([d['imports'] for d in results]), 'main': ms([d['main'] for d in results]),
            'calls': [(cmd, ms(ts)) for (i, cmd), ts in sorted(calls.items())],
            'children': ms([sum(t for _cmd, t in d['calls']) for d in results]), 'lazy': results[-1]['lazy']}


def installed(tmp, python, compiled, mounts):
    """The engine package as the role installs it: copied without __pycache__ to a directory the service cannot write
    (ProtectSystem=strict), so no run can save its bytecode; ``compiled``: with the bytecode made once beforehand
    (compileall, unchecked-hash: valid whatever the files' times). A read-only bind mount, private to this mount
    namespace (ip netns exec made one)."""
    d = os.path.join(tmp, 'lib-compiled' if compiled else 'lib-source')
    shutil.copytree(os.path.join(LIB, 'ipmasq'), os.path.join(d, 'ipmasq'),
                    ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    if compiled:
        run([python, '-m', 'compileall', '-q', '--invalidation-mode', 'unchecked-hash', d])
    run(['mount', '--bind', d, d])
    mounts.append(d)
    run(['mount', '-o', 'remount,bind,ro', d, d])
    return d


def inner(args):
    sys.path.insert(0, LIB)
    env = {'PATH': PATH, 'LC_ALL': 'C.UTF-8'}
    variants = [Variant('checkout', LIB, env)]
    for spec in args.lib:
        name, _sep, lib = spec.rpartition('=')
        variants.append(Variant(name or lib, os.path.abspath(lib), env))
    python = shutil.which('python3', path=PATH)
    save = shutil.which('iptables-save', path=PATH)
    version = run(['iptables', '--version'], env=env).stdout.strip()
    if 'nf_tables' not in version:
        raise SystemExit('iptables in %s is not iptables-nft (%s); select it with update-alternatives'
                         % (PATH, version))
    python_version = run([python, '--version'], env=env).stdout.strip()
    tmp = tempfile.mkdtemp(prefix='bench-host-')
    mounts = []
    try:
        if not args.no_installed:
            for name, compiled in (('installed, source only', False), ('installed, compiled', True)):
                variants.append(Variant(name, installed(tmp, python, compiled, mounts), env))
        cases = [Case(n, tmp, env) for n in args.sizes]
        for case in cases:
            case.reset()
            for v in variants:  # warm-up: page cache and bytecode; the chain in place for the first no-op
                case.sync(v, '')
            for i in range(args.runs):
                case.round(python, save, variants[i % len(variants):] + variants[:i % len(variants)])
        imports = importtime(cases[-1], variants[0], python, args.import_runs)
        probes = [(case, v, probe(case, v, python, args.import_runs)) for v in variants for case in cases]
        floor_parts = (ms([timed([python, '-c', 'pass'], env)[0] for _i in range(args.runs)]),
                       ms([timed([save, '-t', 'nat'], env)[0] for _i in range(args.runs)]),
                       ms([timed([python, '-S', '-c', 'pass'], env)[0] for _i in range(args.runs)]),
                       int(run([python, '-c', 'import sys; print(len(sys.modules))'], env=env).stdout))
    finally:
        for d in mounts:
            subprocess.run(['umount', d], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    report(args, cases, variants, imports, probes, floor_parts, version, python_version)


def report(args, cases, variants, imports, probes, floor_parts, version, python_version):
    print('bin/ip-masq-agent sync, whole process runs as the timer starts them: median of %d, ms (%s, %s, %s, '
          '%d CPUs)' % (args.runs, python_version, version, time.strftime('%Y-%m-%d'), os.cpu_count()))
    print('%8s %10s %10s %10s %10s %10s' % ('CIDRs', 'floor', 'no-op', 'no-op/fl', 'converge', 'conv/fl'))
    for case in cases:
        floor = case.median('floor')
        noop, conv = case.median(('checkout', 'noop')), case.median(('checkout', 'converge'))
        print('%8d %10.1f %10.1f %9.2fx %10.1f %9.2fx' % (case.n, floor, noop, noop / floor, conv, conv / floor))
    print('floor: python3 -c pass, then iptables-save -t nat (the chain of that size in place); aim: no-op <= 2.5x')
    print('spread (p10-p90, ms): ' + '; '.join(
        '%d %s %s' % (c.n, k if isinstance(k, str) else k[1],
                      '-'.join('%.0f' % (1000 * q) for q in _p10_p90(c.times[k])))
        for c in cases for k in ('floor', ('checkout', 'noop'), ('checkout', 'converge'))))
    if len(variants) > 1:
        print()
        print('the same rounds, other engine packages (IPMASQ_AGENT_LIB):')
        print('%8s %-24s %10s %10s %10s %10s' % ('CIDRs', 'package', 'no-op', 'no-op/fl', 'converge', 'conv/fl'))
        for case in cases:
            floor = case.median('floor')
            for v in variants:
                noop, conv = case.median((v.name, 'noop')), case.median((v.name, 'converge'))
                print('%8d %-24s %10.1f %9.2fx %10.1f %9.2fx'
                      % (case.n, v.name, noop, noop / floor, conv, conv / floor))
    print()
    print('the no-op run in-process (median of %d, ms); python3 -c pass alone %.1f (%d modules loaded by its site; '
          'python3 -S -c pass %.1f), iptables-save -t nat alone %.1f'
          % (args.import_runs, floor_parts[0], floor_parts[3], floor_parts[2], floor_parts[1]))
    for case, v, p in probes:
        print('  %s, %d CIDRs: eager imports %.1f; main() %.1f = commands %.1f + Python work (lazy imports, parse, '
              'plan) %.1f' % (v.name, case.n, p['imports'], p['main'], p['children'], p['main'] - p['children']))
        print('      ' + '; '.join('%s %.1f' % (cmd, t) for cmd, t in p['calls']))
        print('      imported during main(): %s' % (', '.join(p['lazy']) or 'nothing'))
    total = sum(own for own, _c, _d in imports.values())
    print()
    print('python3 -X importtime of the no-op run at %d CIDRs (median of %d; µs; the program\'s imports after site: '
          '%.1f ms in all, as measured under -X importtime)' % (cases[-1].n, args.import_runs, total / 1000.0))
    top = sorted(((c, own, name) for name, (own, c, d) in imports.items() if d <= 1), reverse=True)[:args.top]
    print('  %-34s %10s %10s' % ('top-level and second-level imports', 'cumulative', 'self'))
    for c, own, name in top:
        print('  %-34s %10d %10d' % (name, c, own))
    print('  %-34s %10s' % ('costliest modules by own time', 'self'))
    for own, name in sorted(((own, name) for name, (own, _c, _d) in imports.items()), reverse=True)[:args.top]:
        print('  %-34s %10d' % (name, own))


def _p10_p90(values):
    q = statistics.quantiles(values, n=10) if len(values) > 1 else values * 9
    return q[0], q[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', default='60,1000')
    ap.add_argument('--runs', type=int, default=9, help='runs of each figure (at least 9)')
    ap.add_argument('--import-runs', type=int, default=5, help='runs of the importtime and in-process breakdown')
    ap.add_argument('--top', type=int, default=15)
    ap.add_argument('--lib', action='append', default=[], metavar='NAME=DIR',
                    help='also measure, in the same rounds, the engine package in DIR (DIR/ipmasq; IPMASQ_AGENT_LIB): '
                         'a change before it is made')
    ap.add_argument('--no-installed', action='store_true', help='skip the two "installed" packages (a read-only '
                    'copy, with and without bytecode)')
    ap.add_argument('--inner', action='store_true', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.inner:
        sys.exit(outer(sys.argv[1:]))
    args.sizes = [int(x) for x in args.sizes.split(',') if x]
    if args.runs < 9:
        raise SystemExit('--runs must be at least 9')
    inner(args)


if __name__ == '__main__':
    main()
