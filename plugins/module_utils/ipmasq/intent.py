# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the agent means, per address family, before any backend: the ordered rules of upstream's chain.

The single home of the agent's semantics: which destinations keep their source (RETURN), which are translated and how
(MASQUERADE or SNAT, ports, --random-fully), in upstream's order and with upstream's comment texts. The iptables
backend writes these rules one for one; the nftables backend writes the same meaning with sets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from .spec import LINK_LOCAL

NON_MASQ_COMMENT = 'ip-masq-agent: local traffic is not subject to MASQUERADE'
MASQ_COMMENT = 'ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)'
# ipmasq.agent extensions (no upstream text exists for these)
MASQ_LISTED_COMMENT = 'ip-masq-agent: outbound traffic to listed CIDRs is subject to MASQUERADE'
SNAT_COMMENT = 'ip-masq-agent: outbound traffic is subject to SNAT (must be last in chain)'
SNAT_LISTED_COMMENT = 'ip-masq-agent: outbound traffic to listed CIDRs is subject to SNAT'
FORCE_MASQ_COMMENT = 'ip-masq-agent: outbound traffic to listed CIDRs is subject to MASQUERADE, non-masquerade CIDRs or not'
FORCE_SNAT_COMMENT = 'ip-masq-agent: outbound traffic to listed CIDRs is subject to SNAT, non-masquerade CIDRs or not'
DNAT_COMMENT = 'ip-masq-agent: DNAT connections (NodePort, LoadBalancer) keep their client address'
TO_PORTS_PROTOCOLS = ('tcp', 'udp', 'sctp')
# The comments of the agent's rules: a chain holding only rules with these is the agent's.
COMMENTS = frozenset((NON_MASQ_COMMENT, MASQ_COMMENT, MASQ_LISTED_COMMENT, SNAT_COMMENT, SNAT_LISTED_COMMENT,
                      FORCE_MASQ_COMMENT, FORCE_SNAT_COMMENT, DNAT_COMMENT))


# One rule of the agent's chain. verdict: return | masquerade | snat; the rest narrows or parameterises it.
# src: a source CIDR (masqueradeSourceCIDRs); dnat: the rule matches connections that were DNAT-ed.
Rule = namedtuple('Rule', 'verdict comment dst proto ports probability to_source random_fully src dnat',
                  defaults=(None, None, None, None, None, False, None, False))


class Intent(object):
    """One family's chain, in order: DNAT connections left alone (``skip_dnat``), the destinations translated whatever
    the non-masquerade list says (``force``), the destinations that keep their source (``returns``, link-local
    first), then the translating rules. ``sources``: the only sources translated (None: all). And where the
    POSTROUTING jump goes."""

    def __init__(self, family, returns, translate, jump_first, force=(), sources=None, skip_dnat=False):
        self.family = family
        self.returns = returns
        self.translate = translate
        self.jump_first = jump_first
        self.force = list(force)
        self.sources = sources
        self.skip_dnat = skip_dnat

    def _from_sources(self, rules):
        if self.sources is None:
            return list(rules)
        return [r._replace(src=s) for s in self.sources for r in rules]  # each source walks the whole sequence

    @property
    def rules(self):
        """The rules one for one (what the iptables backend writes)."""
        return ([Rule('return', DNAT_COMMENT, dnat=True)] if self.skip_dnat else []) + self._from_sources(self.force) \
            + [Rule('return', NON_MASQ_COMMENT, dst=c) for c in self.returns] + self._from_sources(self.translate)


def go_float(value):
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: the shortest decimal that round-trips, never an exponent."""
    from decimal import Decimal  # only --to-ports with several ranges needs it
    text = format(Decimal(repr(float(value))), 'f')
    return text.rstrip('0').rstrip('.') if '.' in text else text


def _probabilities(ranges):
    """For each port range, the chance that a connection not taken by an earlier rule takes this one."""
    sizes = [hi - lo + 1 for lo, hi in ranges]
    return [size / float(sum(sizes[i:])) for i, size in enumerate(sizes)]


def _translate(settings, family, random_fully):
    snat = settings.snat_of(family)
    verdict = 'snat' if snat else 'masquerade'
    listed = settings.masquerade_cidrs_of(family)
    if listed is not None:
        comment = SNAT_LISTED_COMMENT if snat else MASQ_LISTED_COMMENT
        return [Rule(verdict, comment, dst=c, to_source=snat, random_fully=random_fully) for c in listed]
    comment = SNAT_COMMENT if snat else MASQ_COMMENT
    rules = []
    ranges = settings.port_ranges
    probs = _probabilities(ranges)
    for proto in TO_PORTS_PROTOCOLS if ranges else ():
        for i, ports in enumerate(ranges):
            rules.append(Rule(verdict, comment, proto=proto, ports=ports, random_fully=random_fully,
                              probability=go_float(probs[i]) if i < len(ranges) - 1 else None))
    rules.append(Rule(verdict, comment, to_source=snat, random_fully=random_fully))
    return rules


def build(settings, family, random_fully=None):
    """The intent of one family. ``random_fully``: the flag after the backend's capability check."""
    returns = [] if settings.masq_link_local_of(family) else [LINK_LOCAL[family]]
    returns.extend(settings.effective_cidrs(family))
    rf = settings.random_fully if random_fully is None else random_fully
    snat = settings.snat_of(family)
    force = [Rule('snat' if snat else 'masquerade', FORCE_SNAT_COMMENT if snat else FORCE_MASQ_COMMENT, dst=c,
                  to_source=snat, random_fully=rf) for c in settings.of_family('force_masquerade_cidrs', family) or ()]
    return Intent(family, returns, _translate(settings, family, rf), settings.jump_position == 'first', force=force,
                  sources=settings.of_family('masquerade_source_cidrs', family), skip_dnat=settings.skip_dnat)
