# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nftables backend: one table of the agent's own (``inet ip-masq-agent``), the non-masquerade CIDRs in interval
sets, a postrouting nat chain with upstream's semantics. Read once (``nft -j list table``), write once (one ``nft -f``
transaction that replaces only this table). Other tables are never touched.

Semantics, rule for rule, as the iptables chain: local destinations are left alone (``fib daddr type local``, the
``addrtype ! --dst-type LOCAL`` of the jump), non-masquerade destinations return, everything else is masqueraded
(``masquerade fully-random`` for ``--random-fully``). A connection walks one set lookup instead of one rule per CIDR.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from .ipmasq_config import LINK_LOCAL_CIDR, LINK_LOCAL_CIDR_IPV6, ConfigError, netaddr
from .ipmasq_iptables import IptablesError, Plan
from .ipmasq_rules import MASQ_COMMENT, MASQ_LISTED_COMMENT, NON_MASQ_COMMENT, SNAT_COMMENT, SNAT_LISTED_COMMENT

TABLE = 'ip-masq-agent'
FAMILY = 'inet'
CHAIN = 'postrouting'
LOCAL_COMMENT = 'ip-masq-agent: local destinations are not subject to MASQUERADE'
TO_PORTS_COMMENT = 'ip-masq-agent: outbound traffic is subject to MASQUERADE to the given ports'
_FAM = {'ipv4': ('ip', 'ipv4_addr', '4'), 'ipv6': ('ip6', 'ipv6_addr', '6')}


def _q(text):
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def desired(cfg, options):
    """The normalised state we want: sets (name -> (type, IPSet)), rules [(comment, verdict)], chain spec."""
    fams = ['ipv4', 'ipv6'] if options.enable_ipv6 else ['ipv4']
    if options.port_ranges and len(options.port_ranges) > 1:
        raise ConfigError('to-ports', options.to_ports, 'the nftables backend takes one port range; several ranges '
                                                        'with probabilities need the iptables backend')
    sets = {}
    rules = [(LOCAL_COMMENT, 'return', 'fib daddr type local return')]
    tail = []
    for fam in fams:
        kw, typ, n = _FAM[fam]
        elems = list(cfg.effective_cidrs(fam))
        if fam == 'ipv4' and not cfg.masq_link_local:
            elems.insert(0, LINK_LOCAL_CIDR)
        if fam == 'ipv6' and not cfg.masq_link_local_ipv6:
            elems.insert(0, LINK_LOCAL_CIDR_IPV6)
        sets['nomasq' + n] = (typ, elems)
        rules.append((NON_MASQ_COMMENT, 'return', '%s daddr @nomasq%s return' % (kw, n)))
        snat = cfg.snat_address(fam)
        flags = ' fully-random' if options.random_fully else ''
        action = ('snat %s to %s%s' % (kw, snat, flags)) if snat else ('masquerade' + flags)
        verdict = 'snat' if snat else 'masquerade'
        listed = cfg.masquerade_cidrs_of(fam)
        if listed is not None:
            sets['masq' + n] = (typ, list(listed))
            tail.append((SNAT_LISTED_COMMENT if snat else MASQ_LISTED_COMMENT, verdict,
                         '%s daddr @masq%s %s' % (kw, n, action)))
            continue
        if options.port_ranges:
            lo, hi = options.port_ranges[0]
            ports = str(lo) if lo == hi else '%d-%d' % (lo, hi)
            tail.append((TO_PORTS_COMMENT, 'masquerade', 'meta nfproto %s meta l4proto { tcp, udp, sctp } '
                                                         'masquerade to :%s%s' % (fam, ports, flags)))
        tail.append((SNAT_COMMENT if snat else MASQ_COMMENT, verdict, 'meta nfproto %s %s' % (fam, action)))
    return {'sets': sets, 'rules': rules + tail}


def render(cfg, options):
    """The one ``nft -f`` transaction: create-if-missing, delete, and define the agent's table afresh."""
    want = desired(cfg, options)
    body = []
    for name in sorted(want['sets']):
        typ, elems = want['sets'][name]
        body.append('\tset %s {' % name)
        body.append('\t\ttype %s' % typ)
        body.append('\t\tflags interval')
        body.append('\t\tauto-merge')
        if elems:
            body.append('\t\telements = { %s }' % ', '.join(elems))
        body.append('\t}')
    body.append('\tchain %s {' % CHAIN)
    body.append('\t\ttype nat hook postrouting priority srcnat; policy accept;')
    for comment, _verdict, text in want['rules']:
        body.append('\t\t%s comment %s' % (text, _q(comment)))
    body.append('\t}')
    digest = hashlib.sha256('\n'.join(body).encode('utf-8')).hexdigest()[:16]
    # The digest of the definition rides on the first set's comment (JSON listings show set comments), so option
    # changes that leave no other trace in a listing (fully-random, SNAT address) are still seen.
    first = min(want['sets'])
    i = body.index('\tset %s {' % first)
    body.insert(i + 3, '\t\tcomment %s' % _q('ip-masq-agent config sha256:%s' % digest))
    text = 'table %s %s\ndelete table %s %s\ntable %s %s {\n%s\n}\n' % (
        FAMILY, TABLE, FAMILY, TABLE, FAMILY, TABLE, '\n'.join(body))
    return text, digest


def _elem_net(e):
    if isinstance(e, dict) and 'elem' in e:
        e = e['elem'].get('val', e['elem'])
    if isinstance(e, str):
        return [netaddr.IPNetwork(e)]
    if 'prefix' in e:
        return [netaddr.IPNetwork('%s/%d' % (e['prefix']['addr'], e['prefix']['len']))]
    if 'range' in e:
        lo, hi = e['range']
        return list(netaddr.iprange_to_cidrs(lo, hi))
    raise ValueError('unexpected set element %r' % (e,))


def parse_listing(text):
    """Normalise ``nft -j list table inet ip-masq-agent`` output."""
    data = json.loads(text)
    state = {'sets': {}, 'rules': [], 'chain': None, 'digest': None}
    for item in data.get('nftables', []):
        if 'set' in item:
            s = item['set']
            nets = []
            for e in s.get('elem', []):
                nets.extend(_elem_net(e))
            state['sets'][s['name']] = (s.get('type'), netaddr.IPSet(nets))
            comment = s.get('comment', '')
            if comment.startswith('ip-masq-agent config sha256:'):
                state['digest'] = comment.split(':', 1)[1]
        elif 'chain' in item:
            c = item['chain']
            if c.get('name') == CHAIN:
                state['chain'] = (c.get('type'), c.get('hook'), c.get('prio'), c.get('policy'))
        elif 'rule' in item:
            r = item['rule']
            if r.get('chain') != CHAIN:
                state['rules'].append(('<rule in chain %s>' % r.get('chain'), None))
                continue
            verdict = None
            for expr in r.get('expr', []):
                for key in ('return', 'masquerade', 'snat', 'accept', 'drop', 'jump', 'goto'):
                    if key in expr:
                        verdict = key
            state['rules'].append((r.get('comment'), verdict))
    return state


def summary(state):
    """Readable lines for diffs and status: sets with their CIDRs, then the chain's rules."""
    if state is None:
        return []
    lines = []
    for name in sorted(state['sets']):
        typ, ips = state['sets'][name]
        cidrs = [str(c) for c in ips.iter_cidrs()]
        lines.append('set %s (%s): %s' % (name, typ, ', '.join(cidrs) if cidrs else '(empty)'))
    for comment, verdict in state['rules']:
        lines.append('rule %s: %s' % (verdict, comment))
    if state.get('digest'):
        lines.append('config sha256:%s' % state['digest'])
    return lines


def _want_state(cfg, options, digest):
    want = desired(cfg, options)
    return {
        'sets': dict((n, (t, netaddr.IPSet(e))) for n, (t, e) in want['sets'].items()),
        'rules': [(c, v) for c, v, _t in want['rules']],
        'chain': ('nat', 'postrouting', 100, 'accept'),
        'digest': digest,
    }


class NftBackend(object):
    """Runs ``nft`` through the injected runner (same runner/find contract as the iptables backend)."""

    family = 'nftables'

    def __init__(self, runner, find):
        self.runner = runner
        self.nft = find('nft')

    def read(self):
        argv = [self.nft, '-j', 'list', 'table', FAMILY, TABLE]
        rc, out, err = self.runner(argv, None)
        if rc != 0:
            if 'No such file or directory' in err or 'does not exist' in err:
                return None
            raise IptablesError('nftables: %s failed (rc=%s): %s' % (' '.join(argv), rc, err.strip()),
                                cmd=argv, rc=rc, stdout=out, stderr=err)
        return parse_listing(out)

    def write(self, payload):
        argv = [self.nft, '-f', '-']
        rc, out, err = self.runner(argv, payload)
        if rc != 0:
            raise IptablesError('nftables: nft -f failed (rc=%s); the transaction was not applied: %s'
                                % (rc, err.strip()), cmd=argv, rc=rc, stdout=out, stderr=err)


def plan_present(live, cfg, options):
    payload, digest = render(cfg, options)
    want = _want_state(cfg, options, digest)
    plan = Plan('nftables', '%s %s' % (FAMILY, TABLE))
    plan.before = summary(live)
    plan.after = summary(want)
    if live is None:
        plan.actions.append('create table %s %s' % (FAMILY, TABLE))
    elif live != want:
        diffs = [k for k in ('sets', 'rules', 'chain', 'digest') if live.get(k) != want.get(k)]
        plan.actions.append('replace table %s %s (%s differ)' % (FAMILY, TABLE, ', '.join(diffs)))
    if plan.actions:
        plan.payload = payload
    return plan


def sync(backend, cfg, options, check_mode=False):
    plan = plan_present(backend.read(), cfg, options)
    if plan.changed and not check_mode:
        backend.write(plan.payload)
    return plan


def remove(backend, check_mode=False):
    live = backend.read()
    plan = Plan('nftables', '%s %s' % (FAMILY, TABLE))
    plan.before = summary(live)
    if live is not None:
        plan.actions.append('delete table %s %s' % (FAMILY, TABLE))
        plan.payload = 'delete table %s %s\n' % (FAMILY, TABLE)
        if not check_mode:
            backend.write(plan.payload)
    return plan
