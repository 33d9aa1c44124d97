# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nftables backend: one table of the agent's own (``inet ip-masq-agent``), the non-masquerade CIDRs in interval
sets, a postrouting nat chain with upstream's semantics. Read once (``nft -j list table``), write once (one ``nft -f``
transaction that replaces only this table). Other tables are never touched.

The live table is compared in full with the wanted one: every set (type, flags, contents), the chain (type, hook,
priority, policy) and every rule's whole expression and comment, in order; anything else in the table is drift.
Local destinations are left alone by the first rule (``fib daddr type local``, the iptables jump's
``addrtype ! --dst-type LOCAL``); a connection walks one set lookup instead of one rule per CIDR.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from .. import addr
from ..errors import HostError
from ..intent import DNAT_COMMENT, NON_MASQ_COMMENT
from .base import Plan, Unit

TABLE = 'ip-masq-agent'
FAMILY = 'inet'
CHAIN = 'postrouting'
CHAIN_SPEC = ('nat', 'postrouting', 100, 'accept')
LOCAL_COMMENT = 'ip-masq-agent: local destinations are not subject to MASQUERADE'
_FAM = {'ipv4': ('ip', 'ipv4_addr', '4'), 'ipv6': ('ip6', 'ipv6_addr', '6')}


def _q(text):
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def _match(left, right):
    return {'match': {'op': '==', 'left': left, 'right': right}}


def _meta(key, value):
    return _match({'meta': {'key': key}}, value)


def _addr(family, field, right):
    return _match({'payload': {'protocol': _FAM[family][0], 'field': field}}, right)


class NftRule(object):
    """One rule: its nft text (what is written) and the expression ``nft -j`` lists for it (what is compared)."""

    def __init__(self, text, expr, comment):
        self.text = text
        self.expr = expr
        self.comment = comment

    @property
    def key(self):
        return (self.comment, json.dumps(self.expr, sort_keys=True))


def _translate(family, rule, dst_set=None, src_set=None):
    kw, _typ, _n = _FAM[family]
    text, expr = [], []
    if src_set:
        text.append('%s saddr @%s' % (kw, src_set))
        expr.append(_addr(family, 'saddr', '@' + src_set))
    if dst_set:
        text.append('%s daddr @%s' % (kw, dst_set))
        expr.append(_addr(family, 'daddr', '@' + dst_set))
    else:
        text.append('meta nfproto %s' % family)
        expr.append(_meta('nfproto', family))
    if rule.proto:
        text.append('meta l4proto %s' % rule.proto)
        expr.append(_meta('l4proto', rule.proto))
    args = {}
    if rule.verdict == 'snat':
        text.append('snat %s to %s' % (kw, rule.to_source))
        args.update(family=kw, addr=rule.to_source)
    else:
        text.append('masquerade')
    if rule.ports:
        lo, hi = rule.ports
        text.append('to :%s' % (lo if lo == hi else '%d-%d' % (lo, hi)))
        args['port'] = lo if lo == hi else {'range': [lo, hi]}
    if rule.random_fully:
        text.append('fully-random')
        args['flags'] = ['fully-random']
    expr.append({rule.verdict: args or None})
    return NftRule(' '.join(text), expr, rule.comment)


def wanted(intents):
    """The table we want: sets (name -> (type, [cidrs])) and the chain's rules, in order (the intent's order, each
    list of CIDRs one set)."""
    sets = {}
    rules = [NftRule('fib daddr type local return',
                     [_match({'fib': {'result': 'type', 'flags': ['daddr']}}, 'local'), {'return': None}],
                     LOCAL_COMMENT)]
    if any(i.skip_dnat for i in intents):
        rules.append(NftRule('ct status dnat return', [{'match': {'op': 'in', 'left': {'ct': {'key': 'status'}},
                                                                  'right': 'dnat'}}, {'return': None}], DNAT_COMMENT))
    forced, returns, tail = [], [], []
    for intent in intents:
        kw, typ, n = _FAM[intent.family]
        src = None
        if intent.sources is not None:
            src = 'src' + n
            sets[src] = (typ, list(intent.sources))
        if intent.force:
            sets['force' + n] = (typ, [r.dst for r in intent.force])
            forced.append(_translate(intent.family, intent.force[0], 'force' + n, src))
        sets['nomasq' + n] = (typ, list(intent.returns))
        returns.append(NftRule('%s daddr @nomasq%s return' % (kw, n),
                               [_addr(intent.family, 'daddr', '@nomasq' + n), {'return': None}], NON_MASQ_COMMENT))
        listed = [r for r in intent.translate if r.dst]
        if listed:
            sets['masq' + n] = (typ, [r.dst for r in listed])
            tail.append(_translate(intent.family, listed[0], 'masq' + n, src))
        tail.extend(_translate(intent.family, r, None, src) for r in intent.translate if not r.dst)
    return sets, rules + forced + returns + tail


def render(intents):
    """The one ``nft -f`` transaction: create-if-missing, delete, and define the agent's table afresh."""
    sets, rules = wanted(intents)
    body = []
    for name in sorted(sets):
        typ, elems = sets[name]
        body += ['\tset %s {' % name, '\t\ttype %s' % typ, '\t\tflags interval', '\t\tauto-merge']
        if elems:
            body.append('\t\telements = { %s }' % ', '.join(elems))
        body.append('\t}')
    body += ['\tchain %s {' % CHAIN, '\t\ttype nat hook postrouting priority srcnat; policy accept;']
    body += ['\t\t%s comment %s' % (r.text, _q(r.comment)) for r in rules]
    body.append('\t}')
    return 'table %s %s\ndelete table %s %s\ntable %s %s {\n%s\n}\n' % (
        FAMILY, TABLE, FAMILY, TABLE, FAMILY, TABLE, '\n'.join(body))


def _norm_expr(expr):
    """Spellings that differ between nft versions: a flag as a string or a one-element list."""
    out = []
    for stmt in expr:
        if isinstance(stmt, dict) and len(stmt) == 1:
            (verb, args), = stmt.items()
            if isinstance(args, dict) and isinstance(args.get('flags'), str):
                stmt = {verb: dict(args, flags=[args['flags']])}
        out.append(stmt)
    return out


def _elem_cidrs(e):
    if isinstance(e, dict) and 'elem' in e:
        e = e['elem'].get('val', e['elem'])
    if isinstance(e, str):
        return [addr.canonical(e)]
    if isinstance(e, dict) and 'prefix' in e:
        return ['%s/%d' % (e['prefix']['addr'], e['prefix']['len'])]
    if isinstance(e, dict) and 'range' in e:
        return addr.range_cidrs(*e['range'])
    return ['<element %s>' % json.dumps(e, sort_keys=True)]


class State(object):
    """The table, normalised for comparison: sets, chains, rules, and anything else found in it."""

    def __init__(self):
        self.sets = {}
        self.chains = {}
        self.rules = []
        self.other = []

    def __eq__(self, other):
        return isinstance(other, State) and self.__dict__ == other.__dict__

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def lines(self, texts=None):
        """Readable lines for diffs and status."""
        texts = texts or {}
        out = ['set %s (%s): %s' % (name, typ, ', '.join(cidrs) or '(empty)')
               for name, (typ, _flags, cidrs) in sorted(self.sets.items())]
        out += ['chain %s: %s' % (name, ' '.join(str(x) for x in spec)) for name, spec in sorted(self.chains.items())]
        out += ['rule %s: %s comment %s' % (chain, texts.get((comment, expr), expr), _q(comment or ''))
                for chain, comment, expr in self.rules]
        return out + self.other


def parse_listing(text):
    """Normalise ``nft -j list table inet ip-masq-agent`` output."""
    try:
        items = json.loads(text).get('nftables', [])
    except (ValueError, AttributeError) as e:
        raise HostError('nftables: cannot read nft -j output: %s' % e)
    state = State()
    for item in items:
        kind = next(iter(item), None) if isinstance(item, dict) else None
        body = item.get(kind) if kind else None
        if kind in ('metainfo', 'table'):
            continue
        if kind == 'set' and isinstance(body, dict):
            cidrs = []
            for e in body.get('elem', []):
                cidrs.extend(_elem_cidrs(e))
            flags = body.get('flags', [])
            state.sets[body.get('name')] = (body.get('type'), sorted([flags] if isinstance(flags, str) else flags),
                                            addr.merge([c for c in cidrs if not c.startswith('<')])
                                            + [c for c in cidrs if c.startswith('<')])
        elif kind == 'chain' and isinstance(body, dict):
            state.chains[body.get('name')] = (body.get('type'), body.get('hook'), body.get('prio'), body.get('policy'))
        elif kind == 'rule' and isinstance(body, dict):
            state.rules.append((body.get('chain'), body.get('comment'),
                                json.dumps(_norm_expr(body.get('expr', [])), sort_keys=True)))
        else:
            state.other.append('%s %s' % (kind, json.dumps(body, sort_keys=True)[:200]))
    return state


def wanted_state(intents):
    sets, rules = wanted(intents)
    state = State()
    for name, (typ, cidrs) in sets.items():
        state.sets[name] = (typ, ['interval'], addr.merge(cidrs) if cidrs else [])
    state.chains[CHAIN] = CHAIN_SPEC
    state.rules = [(CHAIN, r.comment, json.dumps(_norm_expr(r.expr), sort_keys=True)) for r in rules]
    return state, dict(((r.comment, json.dumps(_norm_expr(r.expr), sort_keys=True)), r.text) for r in rules)


class NftablesUnit(Unit):
    """The agent's nftables table (both families in one inet table, so one transaction)."""

    backend = 'nftables'
    scope = 'nftables'

    def __init__(self, host, families):
        self.host = host
        self.families = tuple(families)

    def read(self):
        argv = ['nft', '-j', 'list', 'table', FAMILY, TABLE]
        rc, out, err = self.host.run(argv)
        if rc != 0:
            if 'No such file or directory' in err or 'does not exist' in err:
                return None
            raise HostError('nftables: %s failed (rc=%s): %s' % (' '.join(argv), rc, err.strip()),
                            cmd=argv, rc=rc, stdout=out, stderr=err)
        return parse_listing(out)

    def apply(self, plan):
        rc, out, err = self.host.run(['nft', '-f', '-'], plan.payload)
        if rc != 0:
            raise HostError('nftables: nft -f failed (rc=%s); the transaction was not applied: %s'
                            % (rc, err.strip()), cmd=['nft', '-f', '-'], rc=rc, stdout=out, stderr=err)

    max_port_ranges = 1

    def supports_random_fully(self):
        return True

    def render(self, intents, chain):
        return render(intents)

    def plan(self, live, intents, chain, stale_chains=(), owned=()):
        want, texts = wanted_state(intents)
        plan = Plan(self, '%s %s' % (FAMILY, TABLE))
        plan.before = live.lines(texts) if live is not None else []
        plan.after = want.lines(texts)
        if live is None:
            plan.actions.append('create table %s %s' % (FAMILY, TABLE))
        elif live != want:
            diffs = [k for k in ('sets', 'chains', 'rules', 'other') if getattr(live, k) != getattr(want, k)]
            plan.actions.append('replace table %s %s (%s differ)' % (FAMILY, TABLE, ', '.join(diffs)))
        if plan.actions:
            plan.payload = render(intents)
        return plan

    def plan_removal(self, live, chains=()):
        plan = Plan(self, '%s %s' % (FAMILY, TABLE), removal=True)
        if live is not None:
            plan.before = live.lines()
            plan.actions.append('delete table %s %s' % (FAMILY, TABLE))
            plan.payload = 'delete table %s %s\n' % (FAMILY, TABLE)
        return plan
