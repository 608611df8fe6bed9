# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  namespace:
    description:
      - Network namespace to act in, by the name C(ip netns) gives it (a file in C(/run/netns)),
        or an absolute path to a namespace file such as C(/proc/1234/ns/net).
      - MPTCP settings are per network namespace; by default the module acts in the one it runs in,
        which is the host's own.
    type: str
"""
