# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host as the engine sees it: commands run through an injected runner, the lock that serialises runs, the
record of what the last sync applied, and the host facts around a sync (``backend: auto``, the node's subnets).

No Ansible and no subprocess here: the modules pass ``run_command``/``get_bin_path``, the host program passes
``subprocess``/``shutil.which``, the unit tests pass a scripted runner, and every line of logic is shared.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import stat
import time

from . import addr
from .errors import HostError
from .spec import FAMILIES, LINK_LOCAL


class Host(object):
    """``runner(argv, data=None) -> (rc, stdout, stderr)``; ``find(name) -> path`` (raises HostError if missing)."""

    def __init__(self, runner, find, wait=10):
        self.runner = runner
        self.find = find
        self.wait = wait
        self._paths = {}

    def has(self, name):
        try:
            self.path(name)
        except HostError:
            return False
        return True

    def path(self, name):
        if name not in self._paths:
            self._paths[name] = self.find(name)
        return self._paths[name]

    def run(self, argv, data=None):
        return self.runner([self.path(argv[0])] + list(argv[1:]), data)


class HostLock(object):
    """An exclusive flock on a file, so that concurrent syncs (timer, path unit, Ansible) read and write in turn."""

    def __init__(self, path, timeout=30.0):
        self.path = path if path not in (None, '', '-') else None
        self.timeout = timeout
        self.fd = None

    def __enter__(self):
        import fcntl
        if not self.path:
            return self
        parent = os.path.dirname(self.path)
        if parent and not os.path.isdir(parent):
            os.makedirs(parent, 0o755)
        # O_NOFOLLOW: a symlink planted at the lock path is refused, never followed (and never truncated)
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o600)
        except OSError as e:
            raise HostError('cannot open the lock file %s: %s' % (self.path, e.strerror or e))
        deadline = time.time() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except (IOError, OSError) as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.time() >= deadline:
                    os.close(self.fd)
                    self.fd = None
                    raise HostError('another ip-masq-agent run held %s for more than %ss; nothing was changed'
                                    % (self.path, self.timeout))
                time.sleep(0.05)

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        return False


# --- the record of the last sync ----------------------------------------------------------------------------------

def record_path(lock_file):
    """The record lives beside the lock (``/run/ip-masq-agent.lock`` -> ``/run/ip-masq-agent.state``): both are
    per boot, like the rules they describe. No lock, no record."""
    if lock_file in (None, '', '-'):
        return None
    return os.path.splitext(lock_file)[0] + '.state'


def read_record(path):
    """``{'backend', 'chain', 'families'}`` of the last sync, or None."""
    if not path:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = json.loads(os.read(fd, 65536).decode('utf-8', 'replace'))
    except ValueError:
        return None
    finally:
        os.close(fd)
    if not isinstance(data, dict) or not isinstance(data.get('chain'), str) or \
            data.get('backend') not in ('iptables', 'nftables') or not isinstance(data.get('families'), list):
        return None
    return data


def write_atomic(path, text, mode=0o644):
    """Write a file by rename, never following a link at its path; fsync before the rename. ``text`` may be bytes
    (written as they are)."""
    import tempfile  # only when the record or the metrics change, not on a no-op sync
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.ip-masq-agent.', dir=directory)
    try:
        with os.fdopen(fd, 'wb' if isinstance(text, bytes) else 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def clear_record(path):
    if path and os.path.lexists(path):
        os.unlink(path)


def write_record(path, record):
    if path and read_record(path) != record:
        write_atomic(path, json.dumps(record, sort_keys=True) + '\n', 0o600)


# --- host facts ---------------------------------------------------------------------------------------------------

def choose_backend(host, chain, record):
    """``backend: auto``: what the last sync used; else keep iptables where the host already uses it.

    nftables when our nft table exists; iptables when our chain exists or the nat table has any rule (kube-proxy,
    Docker, a user's) or nft is missing; nftables otherwise.
    """
    if record:
        return record['backend']
    if not host.has('nft'):
        return 'iptables'
    rc, _out, _err = host.run(['nft', 'list', 'table', 'inet', 'ip-masq-agent'])
    if rc == 0:
        return 'nftables'
    if not host.has('iptables-save'):
        return 'nftables'
    rc, out, _err = host.run(['iptables-save', '-t', 'nat'])
    if rc == 0 and (':%s ' % chain in out or '\n-A ' in '\n' + out):
        return 'iptables'
    return 'nftables'


def primary_subnets(host, families=FAMILIES):
    """The subnets of the addresses on the interfaces that carry the default routes (of the given families)."""
    if not host.has('ip'):
        return []
    out = []
    for fam in ('-4' if f == 'ipv4' else '-6' for f in FAMILIES if f in families):
        rc, text, _err = host.run(['ip', '-j', fam, 'route', 'show', 'default'])
        try:
            devs = sorted(set(r['dev'] for r in json.loads(text) if 'dev' in r)) if rc == 0 and text.strip() else []
        except (ValueError, KeyError, TypeError):
            continue
        for dev in devs:
            rc, text, _err = host.run(['ip', '-j', fam, 'addr', 'show', 'dev', dev])
            try:
                for link in json.loads(text) if rc == 0 else []:
                    for a in link.get('addr_info', []):
                        if a.get('scope') == 'global':
                            out.append('%s/%s' % (a['local'], a['prefixlen']))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return out


def masqueraded(settings, family):
    """The destinations of a family whose traffic leaves with the node's address, as addr intervals: everything (or,
    when masqueradeCIDRs is set, only those) minus the non-masquerade CIDRs and, unless it is masqueraded too,
    link-local. The same set as ``Settings.masqueraded_set``, in integers: no netaddr on every sync."""
    keep = settings.cidrs(family) + ([] if settings.masq_link_local_of(family) else [LINK_LOCAL[family]])
    listed = settings.masquerade_cidrs_of(family)
    if listed is None:
        within = addr.all_addresses(6 if family == 'ipv6' else 4)
    else:
        within = addr.intervals(addr.parse_cidr(c, '') for c in listed)
    return addr.subtract(within, addr.intervals(addr.parse_cidr(c, '') for c in keep))


def subnet_warnings(settings, subnets):
    """Warn when traffic to the node's own subnet would be masqueraded (usually a missing nonMasqueradeCIDRs entry)."""
    warnings = []
    masq = {}
    for subnet in subnets:
        if ('ipv6' if ':' in subnet else 'ipv4') not in settings.families:
            continue  # before parsing: an IPv6 address would load socket for nothing
        net = addr.network_of(subnet)
        if net is None:
            continue
        if net.family not in masq:
            masq[net.family] = masqueraded(settings, net.family)
        if addr.intersect([addr.span(net)], masq[net.family]):
            warnings.append("the node's own subnet %s is masqueraded by this config (not covered by "
                            'nonMasqueradeCIDRs); add it if Pods talk to node addresses directly' % str(net))
    return warnings
