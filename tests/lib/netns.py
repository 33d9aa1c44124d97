"""Throwaway network namespaces with private, real iptables (nft or legacy backend) for tests."""
import os
import subprocess
import sys
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT = os.path.join(ROOT, 'bin', 'ip-masq-agent')
TOOLS = ('iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore')


class Netns(object):
    """`ip netns add` a namespace; run commands in it with a PATH that selects the iptables backend."""

    def __init__(self, backend='nft', tmpdir=None):
        self.name = 'ipmt-%s' % uuid.uuid4().hex[:10]
        self.backend = backend
        self.tmpdir = tmpdir
        self.bindir = os.path.join(tmpdir, 'bin-%s' % backend)
        os.makedirs(self.bindir, exist_ok=True)
        for tool in TOOLS:
            target = '/usr/sbin/%s' % tool.replace('tables', 'tables-%s' % backend, 1)
            link = os.path.join(self.bindir, tool)
            if not os.path.lexists(link):
                os.symlink(target, link)
        self.lock = os.path.join(tmpdir, 'agent.lock')
        subprocess.run(['ip', 'netns', 'add', self.name], check=True)
        self.run(['ip', 'link', 'set', 'lo', 'up'])

    @property
    def env(self):
        env = dict(os.environ, LC_ALL='C')
        env['PATH'] = self.bindir + os.pathsep + env.get('PATH', '')
        return env

    def run(self, argv, check=True, input=None, env=None, timeout=None):
        proc = subprocess.run(['ip', 'netns', 'exec', self.name] + list(argv), input=input, capture_output=True,
                              text=True, env=env or self.env, check=False, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError('%s failed rc=%d\nstdout: %s\nstderr: %s'
                                 % (argv, proc.returncode, proc.stdout, proc.stderr))
        return proc

    def save(self, family='ipv4', counters=True):
        tool = 'iptables-save' if family == 'ipv4' else 'ip6tables-save'
        argv = [tool, '-t', 'nat'] + (['-c'] if counters else [])
        out = self.run(argv).stdout
        return '\n'.join(l for l in out.splitlines() if not l.startswith('#')) + '\n'

    def restore(self, payload, family='ipv4', counters=False):
        tool = 'iptables-restore' if family == 'ipv4' else 'ip6tables-restore'
        self.run([tool, '--noflush'] + (['-c'] if counters else []), input=payload)

    def agent(self, *args, check=False):
        argv = [sys.executable, AGENT] + list(args)
        if '--lock-file' not in args:
            argv += ['--lock-file', self.lock]
        return self.run(argv, check=check)

    def delete(self):
        subprocess.run(['ip', 'netns', 'del', self.name], check=False)


def our_lines(save_text, chain='IP-MASQ-AGENT'):
    """The agent's lines in iptables-save output (no counters): jumps to the chain, chain line, chain rules."""
    out = []
    for line in save_text.splitlines():
        if line.startswith('['):
            line = line.split(']', 1)[1].strip()
        if line.startswith(':%s ' % chain):
            out.append(':%s - [0:0]' % chain)
        elif line.startswith('-A %s ' % chain) or (line.startswith('-A POSTROUTING') and line.endswith('-j ' + chain)):
            out.append(line)
    return out


def foreign_lines(save_text, chain='IP-MASQ-AGENT'):
    """Everything in iptables-save output except the agent's lines (with counters, if the output has them)."""
    ours = set(our_lines(save_text, chain))
    out = []
    for line in save_text.splitlines():
        bare = line.split(']', 1)[1].strip() if line.startswith('[') else line
        if bare.startswith(':%s ' % chain) or bare in ours:
            continue
        out.append(line)
    return out
