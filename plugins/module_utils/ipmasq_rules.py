# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rule rendering: the exact iptables-restore payload upstream ip-masq-agent v2.12 writes, per address family.

Pure functions, no Ansible and no iptables calls. A rule is a list of argv tokens after ``-A CHAIN``, in upstream's
order; ``rule_text`` quotes it as upstream writes it, ``save_text`` as iptables-save prints it back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from decimal import Decimal

from .ipmasq_config import LINK_LOCAL_CIDR, LINK_LOCAL_CIDR_IPV6

FAMILIES = ('ipv4', 'ipv6')
NON_MASQ_COMMENT = 'ip-masq-agent: local traffic is not subject to MASQUERADE'
MASQ_COMMENT = 'ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)'
JUMP_COMMENT_FMT = 'ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom %s chain'
# ipmasq.agent extensions (no upstream text exists for these)
MASQ_LISTED_COMMENT = 'ip-masq-agent: outbound traffic to listed CIDRs is subject to MASQUERADE'
SNAT_COMMENT = 'ip-masq-agent: outbound traffic is subject to SNAT (must be last in chain)'
SNAT_LISTED_COMMENT = 'ip-masq-agent: outbound traffic to listed CIDRs is subject to SNAT'
TO_PORTS_PROTOCOLS = ('tcp', 'udp', 'sctp')


def jump_comment(chain):
    return JUMP_COMMENT_FMT % chain


def go_float(value):
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: the shortest decimal that round-trips, never an exponent."""
    text = format(Decimal(repr(float(value))), 'f')
    if '.' in text:
        text = text.rstrip('0').rstrip('.')
    return text


def to_ports_probabilities(port_ranges):
    """For each interval, the probability that a connection not taken by an earlier rule takes this one."""
    sizes = [hi - lo + 1 for lo, hi in port_ranges]
    out = []
    for i, size in enumerate(sizes):
        out.append(size / float(sum(sizes[i:])))
    return out


def non_masq_rule(cidr):
    return ['-m', 'comment', '--comment', NON_MASQ_COMMENT, '-d', cidr, '-j', 'RETURN']


def masq_rules(options, cfg=None, family='ipv4'):
    """The MASQUERADE rules: per-protocol ``--to-ports`` rules (if any), then the catch-all, last.

    Extensions: with ``snatToSource`` the target is ``SNAT --to-source ADDR``; with ``masqueradeCIDRs`` only traffic
    to those CIDRs is translated (one rule per CIDR) and there is no catch-all.
    """
    snat = cfg.snat_address(family) if cfg is not None else None
    listed = cfg.masquerade_cidrs_of(family) if cfg is not None else None
    if snat:
        target = ['-j', 'SNAT', '--to-source', snat]
    else:
        target = ['-j', 'MASQUERADE']
    if options.random_fully:
        target.append('--random-fully')
    if listed is not None:
        comment = SNAT_LISTED_COMMENT if snat else MASQ_LISTED_COMMENT
        return [['-m', 'comment', '--comment', comment, '-d', cidr] + target for cidr in listed]
    base = ['-m', 'comment', '--comment', SNAT_COMMENT if snat else MASQ_COMMENT] + target
    rules = []
    ranges = options.port_ranges
    if ranges:
        probs = to_ports_probabilities(ranges)
        for proto in TO_PORTS_PROTOCOLS:
            for i, (lo, hi) in enumerate(ranges):
                rule = base + ['-p', proto]
                if i < len(ranges) - 1:
                    rule += ['-m', 'statistic', '--mode', 'random', '--probability', go_float(probs[i])]
                rule += ['--to-ports', str(lo) if lo == hi else '%d-%d' % (lo, hi)]
                rules.append(rule)
    rules.append(base)
    return rules


def chain_rules(cfg, options, family='ipv4'):
    """The rules of the agent's chain for one family, in upstream's order."""
    rules = []
    if family == 'ipv4':
        if not cfg.masq_link_local:
            rules.append(non_masq_rule(LINK_LOCAL_CIDR))
    else:
        if not cfg.masq_link_local_ipv6:
            rules.append(non_masq_rule(LINK_LOCAL_CIDR_IPV6))
    for cidr in cfg.effective_cidrs(family):
        rules.append(non_masq_rule(cidr))
    rules.extend(masq_rules(options, cfg, family))
    return rules


def jump_rule(chain):
    """The POSTROUTING rule upstream ensures (appended) to send non-local traffic to the agent's chain."""
    return ['-m', 'comment', '--comment', jump_comment(chain), '-m', 'addrtype', '!', '--dst-type', 'LOCAL',
            '-j', chain]


def quote(token):
    """Quote one token as iptables-save does: double quotes around anything with spaces or quotes."""
    if token == '' or any(c in token for c in ' \t"\\\'') or token.startswith('#'):
        return '"%s"' % token.replace('\\', '\\\\').replace('"', '\\"')
    return token


def rule_text(chain, rule, verb='-A'):
    """One rule line as upstream writes it into the restore payload."""
    return ' '.join([verb, chain] + [quote(t) for t in rule])


def render_payload(cfg, options, family='ipv4'):
    """The exact iptables-restore payload upstream's syncMasqRules writes for one family (with --noflush)."""
    chain = options.masq_chain
    lines = ['*nat', ':%s - [0:0]' % chain]
    lines.extend(rule_text(chain, r) for r in chain_rules(cfg, options, family))
    lines.append('COMMIT')
    return '\n'.join(lines) + '\n'


def families(options):
    return ['ipv4', 'ipv6'] if options.enable_ipv6 else ['ipv4']
