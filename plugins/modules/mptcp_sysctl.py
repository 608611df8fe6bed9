#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: mptcp_sysctl
short_description: Manage the net.mptcp sysctls, at runtime and in a sysctl.d file
version_added: 0.1.0
description:
  - Sets one C(net.mptcp.*) sysctl now and persistently, what an administrator does by hand with
    C(echo "net.mptcp.enabled=1" > /etc/sysctl.d/90-enable-MPTCP.conf) and C(sysctl -p).
  - Only keys this kernel has are accepted (the error lists them), read-only keys are refused, and values
    are checked before anything is written (V(enabled) 0 or 1, whole numbers in range for timeouts and
    counters, a scheduler or path manager the kernel offers).
  - The runtime value is written first, so a value the kernel refuses leaves the file untouched; if the
    file cannot be written afterwards, the runtime value is put back.
author:
  - mptcp.multipath developers (@mptcp-multipath)
extends_documentation_fragment:
  - mptcp.multipath.namespace
attributes:
  check_mode:
    support: full
    description: Reports what it would change.
  diff_mode:
    support: full
    description: Returns the runtime and file values before and after.
options:
  name:
    description:
      - The sysctl, as C(net.mptcp.enabled), C(net/mptcp/enabled) or just C(enabled).
    type: str
    required: true
    aliases: [key]
  value:
    description:
      - The value. Booleans are written as 1 or 0. Required with O(state=present).
    type: raw
  state:
    description:
      - V(present) sets the value; V(absent) removes the key from O(sysctl_file) and leaves the runtime value
        as it is. A file left with nothing but this module's header is removed.
    type: str
    choices: [present, absent]
    default: present
  sysctl_file:
    description:
      - The sysctl.d file that makes the value persistent. Its directory must exist.
    type: path
    default: /etc/sysctl.d/90-enable-MPTCP.conf
  runtime:
    description:
      - Apply the value to the running kernel now (like C(sysctl -p)).
    type: bool
    default: true
  persistent:
    description:
      - Write the value to O(sysctl_file) so it is applied again at boot.
      - Left out, this is V(true) for the host and V(false) inside O(namespace), because a sysctl.d file
        is applied to the host's namespace at boot, never to another one.
    type: bool
seealso:
  - module: mptcp.multipath.mptcp_info
  - name: MPTCP sysctl documentation
    description: The kernel's description of every net.mptcp key.
    link: https://docs.kernel.org/networking/mptcp-sysctl.html
"""

EXAMPLES = r"""
- name: Enable MPTCP now and at every boot
  mptcp.multipath.mptcp_sysctl:
    name: net.mptcp.enabled
    value: 1

- name: Disable MPTCP now and at every boot
  mptcp.multipath.mptcp_sysctl:
    name: enabled
    value: 0

- name: Choose the path manager, in the running kernel only
  mptcp.multipath.mptcp_sysctl:
    name: path_manager
    value: kernel
    persistent: false

- name: Stop managing a key in the file
  mptcp.multipath.mptcp_sysctl:
    name: net.mptcp.checksum_enabled
    state: absent
"""

RETURN = r"""
name:
  description: The full sysctl name.
  returned: always
  type: str
  sample: net.mptcp.enabled
value:
  description: The wanted value as the kernel prints it (null with O(state=absent)).
  returned: always
  type: str
  sample: "1"
runtime_value:
  description: The running kernel's value after the task (in check mode, as it would be).
  returned: always
  type: str
  sample: "1"
previous_runtime_value:
  description: The running kernel's value before the task.
  returned: always
  type: str
  sample: "0"
sysctl_file:
  description: The path of the sysctl.d file, or null when O(persistent) is off.
  returned: always
  type: str
  sample: /etc/sysctl.d/90-enable-MPTCP.conf
file_value:
  description: The value the file gives the key after the task, null if it does not set it.
  returned: always
  type: str
  sample: "1"
"""

import errno
import os
import tempfile

from ansible_collections.mptcp.multipath.plugins.module_utils._argspec import namespace_argspec
from ansible_collections.mptcp.multipath.plugins.module_utils._common import (
    MptcpError,
    enter_namespace,
    run_module,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._sysctl import (
    PREFIX,
    available_keys,
    check_key,
    file_value,
    normalize_value,
    planned_file,
    read_runtime,
    short_name,
    write_runtime,
)


class SysctlModule(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        persistent = self.params["persistent"]
        if persistent is None:
            persistent = not self.params["namespace"]
        self.path = self.params["sysctl_file"] if persistent else None

    def read_file(self):
        """The file's text, None when it does not exist. Any other failure
        (no permission, a directory, bad encoding) is an error: rewriting a
        file that could not be read would lose what it holds."""
        try:
            with open(self.path) as handle:
                return handle.read()
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise MptcpError("cannot read %s: %s" % (self.path, exc.strerror or exc))
        except UnicodeDecodeError as exc:
            raise MptcpError("cannot read %s: it is not text (%s)" % (self.path, exc.reason))

    def write_file(self, content):
        if content is None:
            os.remove(self.path)
            return
        handle, temp_path = tempfile.mkstemp(dir=self.module.tmpdir)
        with os.fdopen(handle, "w") as temp:
            temp.write(content)
        os.chmod(temp_path, 0o644)
        self.module.atomic_move(temp_path, self.path)

    def run(self):
        enter_namespace(self.params["namespace"])
        key = short_name(self.params["name"])
        check_key(key, available_keys())
        present = self.params["state"] == "present"
        value = normalize_value(key, self.params["value"]) if present else None
        if self.path and not os.path.isdir(os.path.dirname(self.path)):
            raise MptcpError("directory %s for sysctl_file does not exist" % os.path.dirname(self.path))

        runtime_before = read_runtime(key)
        runtime_after = value if present and self.params["runtime"] else runtime_before
        file_before = self.read_file() if self.path else None
        file_after = planned_file(file_before, key, value) if self.path else None
        changed = runtime_after != runtime_before or file_after != file_before

        if changed and not self.module.check_mode:
            if runtime_after != runtime_before:
                write_runtime(key, runtime_after)  # the kernel's own check comes before the file write
            if file_after != file_before:
                try:
                    self.write_file(file_after)
                except (IOError, OSError) as exc:
                    if runtime_after != runtime_before:
                        write_runtime(key, runtime_before)
                    raise MptcpError("cannot write %s: %s" % (self.path, exc))
            runtime_after = read_runtime(key)

        before = {"runtime": runtime_before, "file": file_value(file_before, key)}
        after = {"runtime": runtime_after, "file": file_value(file_after, key)}
        return {
            "changed": changed,
            "name": PREFIX + key,
            "value": value,
            "runtime_value": runtime_after,
            "previous_runtime_value": runtime_before,
            "sysctl_file": self.path,
            "file_value": after["file"],
            "diff": {"before": before, "after": after},
        }


def main():
    module = namespace_argspec(
        dict(
            name=dict(type="str", required=True, aliases=["key"]),
            value=dict(type="raw"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            sysctl_file=dict(type="path", default="/etc/sysctl.d/90-enable-MPTCP.conf"),
            runtime=dict(type="bool", default=True),
            persistent=dict(type="bool"),
        ),
        required_if=[("state", "present", ("value",))],
    ).create_ansible_module(supports_check_mode=True)
    run_module(module, SysctlModule(module).run)


if __name__ == "__main__":
    main()
