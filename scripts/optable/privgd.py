"""A private glusterd for the option-table scripts (listing.py).

`with private_glusterd(address) as gd:` starts glusterd on a fresh working directory bound to
`address` (port 24007), waits until its CLI answers, and kills it and removes the directory
whatever happens. `gd.cli(args)` runs the real CLI against it; `gd.work` is its working
directory and `gd.brick(name)` a brick `address:/…/b/name` under it.
"""
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


class PrivateGlusterd:
    def __init__(self, address, top):
        self.address = address
        self.top = top
        self.work = os.path.join(top, "w")
        self.run = os.path.join(top, "r")
        self.sock = os.path.join(self.run, "glusterd.socket")
        self.pid_file = os.path.join(top, "glusterd.pid")

    def cli(self, args, check=False):
        return subprocess.run(
            ["gluster", f"--glusterd-sock={self.sock}", "--mode=script"] + args,
            capture_output=True,
            text=True,
            check=check,
        )

    def brick(self, name):
        return f"{self.address}:{os.path.join(self.top, 'b', name)}"


@contextlib.contextmanager
def private_glusterd(address):
    top = tempfile.mkdtemp(prefix="optable-gd.")
    gd = PrivateGlusterd(address, top)
    for d in (gd.work, gd.run, os.path.join(top, "b")):
        os.makedirs(d)
    try:
        subprocess.run(
            [
                "glusterd",
                "--xlator-option", f"management.transport.socket.bind-address={address}",
                "--xlator-option", f"management.working-directory={gd.work}",
                "--xlator-option", f"management.run-directory={gd.run}",
                "--xlator-option", f"management.glusterd-sockfile={gd.sock}",
                f"--pid-file={gd.pid_file}",
                f"--log-file={os.path.join(top, 'glusterd.log')}",
            ],
            check=True,
        )
        for _ in range(100):
            if gd.cli(["volume", "list"]).returncode == 0:
                break
            time.sleep(0.1)
        else:
            sys.exit("glusterd did not answer")
        yield gd
    finally:
        try:
            with open(gd.pid_file) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        shutil.rmtree(top, ignore_errors=True)
