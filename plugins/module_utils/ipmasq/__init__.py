# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipmasq.agent's engine, one package shared by the modules and the host program ``bin/ip-masq-agent``.

Laid out by stage: ``spec`` (every knob, once) -> ``intent`` (what the agent means, per family, backend-neutral)
-> ``backends`` (iptables, nftables: read, plan, apply) -> ``engine`` (the only sync). ``cli`` is the host program;
``glue`` is the Ansible side. Pure Python apart from ``glue``; relative imports only, so the directory can be
copied to a host and imported as it is.
"""
