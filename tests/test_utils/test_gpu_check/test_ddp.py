"""s5_mm.utils.gpu_check.ddp: the rendezvous port and the tolerance. The
path itself (two gloo ranks spawned, 30-40 s) runs in
tests/test_tools/test_gpu_check.py::test_cpu_run_exercises_every_path,
which checks the ranks' parameter difference against PARAM_TOLERANCE."""
import socket

from s5_mm.utils.gpu_check.ddp import PARAM_TOLERANCE, _free_port


def test_free_port_can_be_bound():
    # DDP averages the same gradients: rounding only
    assert PARAM_TOLERANCE == 1e-5
    port = _free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as s:
        s.bind(('127.0.0.1', port))

