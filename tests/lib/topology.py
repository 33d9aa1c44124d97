"""A private topology of network namespaces joined by veth pairs, for real traffic through a masquerading node.

    pod (192.168.10.2, fd00:10::2) --veth-- node (routes; runs ip-masq-agent) --veth-- dst
dst carries several addresses: 10.20.0.10 (inside 10.0.0.0/8), 203.0.113.10 and 198.51.100.10 (documentation
ranges, outside every default non-masquerade range), 169.254.1.10 (link-local), fd00:20::10 and 2001:db8:1::10.
dst routes the Pod range back through the node, so a connection works masqueraded or not, and a small TCP server
in dst answers each connection with the peer address it saw. None of these namespaces has a route to the machine's
own namespace; all traffic stays between them.
"""
import os
import subprocess
import sys
import time
import uuid

from tests.lib.netns import AGENT, TOOLS

POD4, POD6 = '192.168.10.2', 'fd00:10::2'
NODE_ADDRS = {'10.20.0.1', '203.0.113.1', '198.51.100.1', '169.254.1.1', '192.168.10.1', 'fd00:10::1',
              'fd00:20::1', '2001:db8:1::1'}
SERVER = r'''
import socket, sys
fam = socket.AF_INET6
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 8080)); s.listen(64); s.settimeout(300)
print("ready", flush=True)
while True:
    try:
        c, addr = s.accept()
    except socket.timeout:
        break
    peer = addr[0][7:] if addr[0].startswith("::ffff:") else addr[0]
    c.sendall(peer.encode()); c.close()
'''
CLIENT = r'''
import socket, sys
dst = sys.argv[1]
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
c = socket.socket(fam, socket.SOCK_STREAM); c.settimeout(5)
c.connect((dst, 8080)); print(c.recv(100).decode()); c.close()
'''


def sh(*argv, ns=None, env=None, check=True):
    if ns:
        argv = ('ip', 'netns', 'exec', ns) + argv
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed rc=%d: %s %s' % (argv, proc.returncode, proc.stdout, proc.stderr))
    return proc


class Topology(object):
    def __init__(self, tmpdir, backend='iptables-nft'):
        tag = uuid.uuid4().hex[:6]
        self.tmpdir = tmpdir
        self.backend = backend
        self.pod, self.node, self.dst = 'dp-p-' + tag, 'dp-n-' + tag, 'dp-d-' + tag
        for ns in (self.pod, self.node, self.dst):
            sh('ip', 'netns', 'add', ns)
            sh('ip', 'link', 'set', 'lo', 'up', ns=ns)
        sh('ip', 'link', 'add', 'p0', 'netns', self.pod, 'type', 'veth', 'peer', 'name', 'n0', 'netns', self.node)
        sh('ip', 'link', 'add', 'd0', 'netns', self.dst, 'type', 'veth', 'peer', 'name', 'n1', 'netns', self.node)
        for ns, dev, addrs in ((self.pod, 'p0', ['192.168.10.2/24', 'fd00:10::2/64']),
                               (self.node, 'n0', ['192.168.10.1/24', 'fd00:10::1/64']),
                               (self.node, 'n1', ['10.20.0.1/24', '203.0.113.1/24', '198.51.100.1/24',
                                                  '169.254.1.1/16', 'fd00:20::1/64', '2001:db8:1::1/64']),
                               (self.dst, 'd0', ['10.20.0.10/24', '203.0.113.10/24', '198.51.100.10/24',
                                                 '169.254.1.10/16', 'fd00:20::10/64', '2001:db8:1::10/64'])):
            for a in addrs:
                sh('ip', 'addr', 'add', a, 'dev', dev, *(['nodad'] if ':' in a else []), ns=ns)
            sh('ip', 'link', 'set', dev, 'up', ns=ns)
        sh('ip', 'route', 'add', 'default', 'via', '192.168.10.1', ns=self.pod)
        sh('ip', '-6', 'route', 'add', 'default', 'via', 'fd00:10::1', ns=self.pod)
        sh('ip', 'route', 'add', '192.168.10.0/24', 'via', '10.20.0.1', ns=self.dst)
        sh('ip', '-6', 'route', 'add', 'fd00:10::/64', 'via', 'fd00:20::1', ns=self.dst)
        sh('sysctl', '-qw', 'net.ipv4.ip_forward=1', ns=self.node)
        sh('sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1', ns=self.node)
        self.server = subprocess.Popen(['ip', 'netns', 'exec', self.dst, sys.executable, '-c', SERVER],
                                       stdout=subprocess.PIPE, text=True)
        assert self.server.stdout.readline().strip() == 'ready'
        self.bindir = os.path.join(tmpdir, 'bin-legacy')
        if backend == 'iptables-legacy' and not os.path.isdir(self.bindir):
            os.makedirs(self.bindir)
            for tool in TOOLS:
                os.symlink('/usr/sbin/' + tool.replace('tables', 'tables-legacy', 1), os.path.join(self.bindir, tool))

    def sync(self, config_text, *flags):
        path = os.path.join(self.tmpdir, 'ip-masq-agent')
        with open(path, 'w') as f:
            f.write(config_text)
        env = dict(os.environ, LC_ALL='C')
        if self.backend == 'iptables-legacy':
            env['PATH'] = self.bindir + os.pathsep + env['PATH']
        backend = 'nftables' if self.backend == 'nftables' else 'iptables'
        return sh(sys.executable, AGENT, 'sync', '--config', path, '--backend', backend,
                  '--lock-file', os.path.join(self.tmpdir, 'lock'), *flags, ns=self.node, env=env)

    def seen_from(self, dst):
        """Open a new TCP connection from the pod to dst; return the source address dst saw."""
        for _attempt in range(3):
            proc = sh(sys.executable, '-c', CLIENT, dst, ns=self.pod, check=False)
            if proc.returncode == 0:
                return proc.stdout.strip()
            time.sleep(0.2)
        raise AssertionError('no connection from the pod to %s: %s' % (dst, proc.stderr))

    def seen_by_pod(self, via='203.0.113.1', port=9090):
        """An inbound connection as NodePort traffic makes one: dst connects to the node's address ``via``:``port``,
        the node DNATs it to the pod's server (8080). Returns the source address the pod saw."""
        if getattr(self, 'pod_server', None) is None:
            self.pod_server = subprocess.Popen(['ip', 'netns', 'exec', self.pod, sys.executable, '-c', SERVER],
                                               stdout=subprocess.PIPE, text=True)
            assert self.pod_server.stdout.readline().strip() == 'ready'
            sh('nft', 'add table ip nodeport; add chain ip nodeport pre { type nat hook prerouting priority dstnat; }; '
                      'add rule ip nodeport pre ip daddr %s tcp dport %d dnat to %s:8080' % (via, port, POD4), ns=self.node)
        client = CLIENT.replace('8080', str(port))
        for _attempt in range(3):
            proc = sh(sys.executable, '-c', client, via, ns=self.dst, check=False)
            if proc.returncode == 0:
                return proc.stdout.strip()
            time.sleep(0.2)
        raise AssertionError('no connection from dst to %s:%d: %s' % (via, port, proc.stderr))

    def close(self):
        for server in (self.server, getattr(self, 'pod_server', None)):
            if server is not None:
                server.kill()
                server.wait()
        for ns in (self.pod, self.node, self.dst):
            subprocess.run(['ip', 'netns', 'del', ns], check=False)
