"""New-connection setup rate through a masquerading "node" namespace: iptables chain vs nftables set.

Topology (private network namespaces, veth pairs, no route to the machine's own namespace):
    pod (192.168.10.2) -- node (routes; runs ip-masq-agent sync) -- dst (203.0.113.10, outside every
    non-masquerade range, so each new connection walks the whole non-masquerade list before MASQUERADE)
NAT rules are evaluated once per new connection (conntrack), so the rate of new connections is what the rule
walk costs. For each backend and list size (10, 1,000, 10,000 CIDRs) the client in "pod" opens and resets TCP
connections to "dst" for a fixed time and we count how many complete. Ratios are nft/iptables in one run.
Usage: bench/bench_connrate.py [--seconds 3] [--sizes 10,1000,10000]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(ROOT, 'bin', 'ip-masq-agent')

SERVER = r'''
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(4096); print("ready", flush=True)
s.settimeout(120)
seen = set()
while True:
    try:
        c, addr = s.accept()
    except socket.timeout:
        break
    seen.add(addr[0]); c.close()
'''

CLIENT = r'''
import socket, struct, sys, time
dst, seconds = sys.argv[1], float(sys.argv[2])
n = 0; end = time.monotonic() + seconds
linger = struct.pack("ii", 1, 0)
while time.monotonic() < end:
    c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    c.settimeout(2)
    c.connect((dst, 8080)); c.close(); n += 1
print(n / seconds)
'''


def sh(*argv, ns=None, check=True, **kw):
    if ns:
        argv = ('ip', 'netns', 'exec', ns) + argv
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)


class Topology(object):
    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.pod, self.node, self.dst = 'bp-%s' % tag, 'bn-%s' % tag, 'bd-%s' % tag
        for ns in (self.pod, self.node, self.dst):
            sh('ip', 'netns', 'add', ns)
            sh('ip', 'link', 'set', 'lo', 'up', ns=ns)
        sh('ip', 'link', 'add', 'p0', 'netns', self.pod, 'type', 'veth', 'peer', 'name', 'n0', 'netns', self.node)
        sh('ip', 'link', 'add', 'd0', 'netns', self.dst, 'type', 'veth', 'peer', 'name', 'n1', 'netns', self.node)
        sh('ip', 'addr', 'add', '192.168.10.2/24', 'dev', 'p0', ns=self.pod)
        sh('ip', 'addr', 'add', '192.168.10.1/24', 'dev', 'n0', ns=self.node)
        sh('ip', 'addr', 'add', '203.0.113.1/24', 'dev', 'n1', ns=self.node)
        sh('ip', 'addr', 'add', '203.0.113.10/24', 'dev', 'd0', ns=self.dst)
        for ns, dev in ((self.pod, 'p0'), (self.node, 'n0'), (self.node, 'n1'), (self.dst, 'd0')):
            sh('ip', 'link', 'set', dev, 'up', ns=ns)
        sh('ip', 'route', 'add', 'default', 'via', '192.168.10.1', ns=self.pod)
        # dst has no route back to the Pod range: only masqueraded traffic (from 203.0.113.1) can be answered.
        sh('sysctl', '-qw', 'net.ipv4.ip_forward=1', ns=self.node)
        self.server = subprocess.Popen(['ip', 'netns', 'exec', self.dst, sys.executable, '-c', SERVER],
                                       stdout=subprocess.PIPE, text=True)
        assert self.server.stdout.readline().strip() == 'ready'

    def rate(self, seconds):
        out = sh(sys.executable, '-c', CLIENT, '203.0.113.10', str(seconds), ns=self.pod).stdout
        return float(out.strip())

    def close(self):
        self.server.kill()
        self.server.wait()
        for ns in (self.pod, self.node, self.dst):
            sh('ip', 'netns', 'del', ns, check=False)


def cidrs(n):
    """n non-masquerade CIDRs that do not cover 203.0.113.0/24: /24s inside 10.0.0.0/8."""
    return ['10.%d.%d.0/24' % (i // 256, i % 256) for i in range(n)]


BACKENDS = ('iptables-legacy', 'iptables', 'nftables')


def legacy_path(tmp):
    """A PATH dir whose iptables* commands are the legacy (x_tables) ones."""
    d = os.path.join(tmp, 'legacy-bin')
    if not os.path.isdir(d):
        os.makedirs(d)
        for tool in ('iptables', 'iptables-save', 'iptables-restore'):
            os.symlink('/usr/sbin/' + tool.replace('iptables', 'iptables-legacy', 1), os.path.join(d, tool))
    return d


def apply(topo, backend, n, tmp):
    path = os.path.join(tmp, 'config-%d' % n)
    with open(path, 'w') as f:
        f.write('cidrLimit: %d\nnonMasqueradeCIDRs:\n%s' % (n, ''.join('  - %s\n' % c for c in cidrs(n))))
    sh('nft', 'delete', 'table', 'inet', 'ip-masq-agent', ns=topo.node, check=False)  # start each case clean
    for tool in ('iptables', 'iptables-legacy'):
        sh(tool, '-t', 'nat', '-F', ns=topo.node, check=False)
        sh(tool, '-t', 'nat', '-X', ns=topo.node, check=False)
    env = dict(os.environ)
    if backend == 'iptables-legacy':
        env['PATH'] = legacy_path(tmp) + os.pathsep + env['PATH']
    sh(sys.executable, AGENT, 'sync', '--backend', 'nftables' if backend == 'nftables' else 'iptables',
       '--config', path, '--lock-file', os.path.join(tmp, 'l'), ns=topo.node, env=env)
    sh('conntrack', '-F', ns=topo.node, check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--seconds', type=float, default=3.0)
    ap.add_argument('--sizes', default='10,1000,10000')
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(',')]
    topo = Topology()
    tmp = tempfile.mkdtemp()
    results = {}
    try:
        apply(topo, 'iptables', sizes[0], tmp)
        topo.rate(0.5)  # warm-up; it also proves masquerading works: "dst" has no route back to the Pod range
        for n in sizes:
            for backend in BACKENDS:
                apply(topo, backend, n, tmp)
                results[(backend, n)] = topo.rate(args.seconds)
    finally:
        topo.close()
    print('new TCP connections per second through the node (%.0f s each, 2-core machine, one client)' % args.seconds)
    print('%10s %16s %16s %16s %10s %10s' % ('CIDRs', 'iptables-legacy', 'iptables-nft', 'nftables set',
                                             'set/legacy', 'set/nft'))
    for n in sizes:
        l, i, f = results[('iptables-legacy', n)], results[('iptables', n)], results[('nftables', n)]
        print('%10d %16.0f %16.0f %16.0f %9.2fx %9.2fx' % (n, l, i, f, f / l, f / i))
    n = sizes[-1]
    base = sizes[0]
    keep = dict((b, 100 * results[(b, n)] / results[(b, base)]) for b in BACKENDS)
    print('at %d CIDRs each keeps this much of its %d-CIDR rate: nftables set %.0f%%, iptables-nft chain %.0f%%, '
          'iptables-legacy chain %.0f%%' % (n, base, keep['nftables'], keep['iptables'], keep['iptables-legacy']))
    print('ratio at %d CIDRs: nftables set is %.2fx the iptables-nft chain and %.2fx the iptables-legacy chain'
          % (n, results[('nftables', n)] / results[('iptables', n)],
             results[('nftables', n)] / results[('iptables-legacy', n)]))


if __name__ == '__main__':
    main()
