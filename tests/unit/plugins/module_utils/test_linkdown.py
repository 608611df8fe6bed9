"""_linkdown: the linkdown-route sysctls of mptcp_nm_ignore_carrier, from
the links, the file an earlier run left and what sysctl printed."""

from ansible_collections.mptcp.multipath.plugins.module_utils._linkdown import file_text, keys, parse, plan

V4, V6 = "net.ipv4.conf.link1.ignore_routes_with_linkdown", "net.ipv6.conf.link1.ignore_routes_with_linkdown"


def test_two_keys_a_link_and_dots_as_slashes():
    assert keys(["link1"]) == [V4, V6]
    assert keys(["eth0.100"])[0] == "net.ipv4.conf.eth0/100.ignore_routes_with_linkdown"


def test_the_file_sets_each_key_to_1_and_none_is_no_file():
    text = file_text(["link1"])
    assert text.startswith("# Managed by Ansible") and text.endswith("%s = 1\n%s = 1\n" % (V4, V6))
    assert file_text([]) is None


def test_parse_reads_sysctl_output_and_files_alike():
    assert parse("%s = 1\n# %s = 0\nnet.ipv4.ip_forward = 1\n%s=0\n" % (V4, V6, V6)) == {V4: "1", V6: "0"}


def test_a_fresh_host_reads_then_writes_only_what_differs():
    before_read = plan(["link1"])
    assert before_read == {"read": [V4, V6], "file": file_text(["link1"]), "writes": []}
    assert plan(["link1"], now="%s = 0\n%s = 1\n" % (V4, V6))["writes"] == [V4 + "=1"]


def test_keys_the_kernel_lacks_are_not_written():
    # IPv6 off: sysctl -e prints nothing for the key
    assert plan(["link1"], now="%s = 0\n" % V4)["writes"] == [V4 + "=1"]


def test_undoing_puts_the_earlier_files_keys_back_to_0():
    earlier = file_text(["link1"])
    result = plan([], file_before=earlier, now="%s = 1\n%s = 1\n" % (V4, V6))
    assert result == {"read": [V4, V6], "file": None, "writes": [V4 + "=0", V6 + "=0"]}
    # a link no longer planned goes back to 0, the planned one stays
    moved = plan(["link2"], file_before=earlier, now="%s = 1\n%s = 1\n" % (V4, V6))
    assert moved["read"][-2:] == [V4, V6] and moved["writes"] == [V4 + "=0", V6 + "=0"]
