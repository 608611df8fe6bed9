"""The lab's delay line (mptcp_lab/delayline.py) without a kernel: its
netlink messages, the order and time of its verdicts, the loss, and the
lab's delay and loss values. tests/system/test_plan_paths.py's delayed case
measures it on real links (each subflow's minimum round trip).

    .venv/bin/pytest -q tests/lab/tests
"""

import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mptcp_lab import delayline, lab as lab_mod  # noqa: E402
from mptcp_lab.util import LabError  # noqa: E402


def packet_message(queue, packet_id):
    """What the kernel sends for a queued packet (copy mode meta)."""
    header = delayline.attr(delayline.NFQA_PACKET_HDR, struct.pack("!IHB", packet_id, 0x0800, 0))
    mark = delayline.attr(3, struct.pack("!I", 0))  # NFQA_MARK: an attribute before is skipped
    return delayline.message(delayline.NFQNL_MSG_PACKET, queue, [mark, header], flags=0)


def error_message(errno):
    return delayline.NLMSG_HDR.pack(36, delayline.NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", -errno) + b"\0" * 16


def verdict_fields(request):
    """(message type, queue, verdict, id) of a verdict request."""
    _length, msg_type, _flags, _seq, _pid = delayline.NLMSG_HDR.unpack_from(request)
    _family, _version, queue = delayline.NFGENMSG.unpack_from(request, delayline.NLMSG_HDR.size)
    verdict, packet_id = struct.unpack_from("!II", request, delayline.NLMSG_HDR.size + delayline.NFGENMSG.size + 4)
    return msg_type & 0xFF, queue, verdict, packet_id


def test_packets_errors_and_acks_are_read_from_one_buffer():
    data = packet_message(2, 7) + error_message(0) + packet_message(3, 8) + error_message(1)
    assert delayline.parse(data) == [("packet", 2, 7), ("packet", 3, 8), ("error", 1, None)]


def test_a_queue_is_bound_for_ids_only_with_gso_packets_kept_whole():
    bind, params = delayline.config_messages(5)
    assert delayline.NFGENMSG.unpack_from(bind, delayline.NLMSG_HDR.size)[2] == 5
    # NFQA_CFG_CMD: bind; NFQA_CFG_PARAMS: copy range 0, mode meta
    assert struct.pack("!BxH", delayline.NFQNL_CFG_CMD_BIND, 0) in bind
    assert delayline.attr(delayline.NFQA_CFG_PARAMS, struct.pack("!IB", 0, delayline.NFQNL_COPY_META)) in params
    assert delayline.attr(delayline.NFQA_CFG_FLAGS, struct.pack("!I", delayline.NFQA_CFG_F_GSO)) in params


def test_packets_leave_in_order_after_their_delay_in_one_batch_per_queue():
    line = delayline.DelayLine([(1, 0.010, 0.0), (2, 0.040, 0.0)])
    for packet_id, at in ((1, 0.000), (2, 0.002), (3, 0.004)):
        assert line.arrived(1, packet_id, at) is None
    assert line.arrived(2, 1, 0.001) is None
    assert line.next_due() == pytest.approx(0.010)
    assert line.due(0.009) == []
    # at 12 ms the first two of queue 1 are due: one batch verdict up to id 2
    assert [verdict_fields(v) for v in line.due(0.012)] == [
        (delayline.NFQNL_MSG_VERDICT_BATCH, 1, delayline.NF_ACCEPT, 2)]
    assert line.next_due() == pytest.approx(0.014)
    assert [verdict_fields(v) for v in line.due(0.041)] == [
        (delayline.NFQNL_MSG_VERDICT_BATCH, 1, delayline.NF_ACCEPT, 3),
        (delayline.NFQNL_MSG_VERDICT_BATCH, 2, delayline.NF_ACCEPT, 1)]
    assert line.next_due() is None


def test_a_lost_packet_is_dropped_at_once_and_never_waits():
    draws = iter([0.5, 0.001, 0.9])
    line = delayline.DelayLine([(1, 0.010, 0.01)], rand=lambda: next(draws))
    assert line.arrived(1, 1, 0.0) is None
    assert verdict_fields(line.arrived(1, 2, 0.0)) == (delayline.NFQNL_MSG_VERDICT, 1, delayline.NF_DROP, 2)
    assert line.arrived(1, 3, 0.0) is None
    assert [verdict_fields(v)[3] for v in line.due(0.010)] == [3]


@pytest.mark.parametrize("text, queue", [("1:10:0", (1, 0.010, 0.0)), ("3:0.5:1.5", (3, 0.0005, 0.015))])
def test_queue_arguments(text, queue):
    assert delayline.parse_queue(text) == pytest.approx(queue)


@pytest.mark.parametrize("text", ["1:10", "x:10:0", "1:-1:0", "1:10:101", "70000:1:0"])
def test_bad_queue_arguments_are_refused_naming_them(text):
    with pytest.raises(ValueError, match=repr(text)):
        delayline.parse_queue(text)


@pytest.mark.parametrize("text, ms", [("10ms", 10.0), ("0.5s", 500.0), ("250us", 0.25), ("40", 40.0), ("0", 0.0)])
def test_delays(text, ms):
    assert lab_mod.parse_delay(text) == ms


@pytest.mark.parametrize("text, message", [("ten", "delay 'ten': use e.g. 10ms"), ("-1ms", "from 0 to 10 s"),
                                           ("11s", "from 0 to 10 s")])
def test_bad_delays_are_refused_naming_the_value(text, message):
    with pytest.raises(LabError, match=message):
        lab_mod.parse_delay(text)


@pytest.mark.parametrize("text, percent", [("1%", 1.0), ("0.5", 0.5), ("100%", 100.0)])
def test_losses(text, percent):
    assert lab_mod.parse_loss(text) == percent


@pytest.mark.parametrize("text", ["lots", "101%", "-1%"])
def test_bad_losses_are_refused_naming_the_value(text):
    with pytest.raises(LabError, match="loss %r" % text):
        lab_mod.parse_loss(text)
