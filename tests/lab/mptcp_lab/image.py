"""Build and cache the lab's host image from a recipe (tests/lab/images/*.yml).

The cache lives outside the repository, in CACHE_ROOT/<name>-<hash>/, where
<hash> covers the recipe file and BUILD_FORMAT: an unchanged recipe is never
rebuilt, a changed one gets a new directory. A build goes to a temporary
directory first and is renamed into place only when complete.
"""

import fcntl
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import yaml

from .util import LabError, log, run

LAB_DIR = Path(__file__).resolve().parent.parent
IMAGES_DIR = LAB_DIR / "images"
CACHE_ROOT = Path(os.environ.get("MPTCP_LAB_CACHE", "/var/cache/mptcp-lab"))
# Bump when the way a recipe is turned into an image changes.
BUILD_FORMAT = 1


class Image:
    """A built (or to-be-built) image: the rootfs plus, lazily, VM files."""

    def __init__(self, name):
        self.recipe_path = IMAGES_DIR / f"{name}.yml"
        if not self.recipe_path.exists():
            raise LabError(f"unknown image {name!r}: no {self.recipe_path}")
        self.recipe = yaml.safe_load(self.recipe_path.read_text())
        digest = hashlib.sha256(
            json.dumps([BUILD_FORMAT, self.recipe], sort_keys=True).encode()
        ).hexdigest()[:12]
        self.name = name
        self.dir = CACHE_ROOT / f"{name}-{digest}"
        self.rootfs = self.dir / "rootfs"
        self.vm_dir = self.dir / "vm"

    @property
    def built(self):
        return (self.dir / "complete").exists()

    def _lock(self):
        """An exclusive lock per image: two labs never build it at once."""
        CACHE_ROOT.mkdir(parents=True, exist_ok=True)
        handle = open(CACHE_ROOT / f"{self.dir.name}.lock", "w")
        fcntl.flock(handle, fcntl.LOCK_EX)
        return handle

    def ensure(self):
        """Build the rootfs unless cached; return seconds spent building."""
        if self.built:
            return 0.0
        with self._lock():
            if self.built:  # another process built it while we waited
                return 0.0
            started = time.monotonic()
            build(self.recipe, self.dir)
            took = time.monotonic() - started
        log(f"image {self.name} built in {took:.0f} s -> {self.dir}")
        return took

    def ensure_vm_files(self):
        """Kernel, initrd and raw ext4 root disk for qemu, made once."""
        self.ensure()
        done = self.vm_dir / "complete"
        if done.exists():
            return self.vm_dir
        with self._lock():
            if not done.exists():
                self._make_vm_files(done)
        return self.vm_dir

    def _make_vm_files(self, done):
        started = time.monotonic()
        tmp = self.dir / f"vm.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        vm = self.recipe["vm"]
        # Resolve the /vmlinuz -> boot/vmlinuz-X symlinks inside the tree.
        for key, target in (("kernel", "vmlinuz"), ("initrd", "initrd.img")):
            link = self.rootfs / vm[key].lstrip("/")
            real = self.rootfs / os.readlink(link).lstrip("/") if link.is_symlink() else link
            shutil.copyfile(real, tmp / target)
        run(["mkfs.ext4", "-q", "-F", "-L", "mptcplab-root", "-d", str(self.rootfs),
             str(tmp / "root.raw"), vm["disk_size"]], capture=True)
        shutil.rmtree(self.vm_dir, ignore_errors=True)
        tmp.rename(self.vm_dir)
        done.touch()
        log(f"VM disk of {self.name} made in {time.monotonic() - started:.0f} s")


def host_debian_mirror():
    """The Debian mirror apt on this machine uses (deb822 or one-line style)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = line.split()
            if path.suffix == ".sources" and words[:1] == ["URIs:"]:
                uris = words[1:]
            elif words[:1] == ["deb"]:
                uris = [w for w in words[1:] if "://" in w][:1]
            else:
                continue
            for uri in uris:
                if "security" not in uri and uri.rstrip("/").endswith("/debian"):
                    return uri
    return "http://deb.debian.org/debian"


def build(recipe, dest):
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f"{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    rootfs = tmp / "rootfs"
    rootfs.mkdir(parents=True)
    try:
        _build_tree(recipe, rootfs)
    except BaseException:
        # debootstrap mounts /proc and /sys in the tree; a failed run can
        # leave them behind. Unmount (deepest first) before deleting.
        with open("/proc/mounts") as mounts:
            left = [line.split()[1] for line in mounts
                    if line.split()[1].startswith(str(tmp) + "/")]
        for mountpoint in sorted(left, reverse=True):
            run(["umount", "--lazy", mountpoint], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    (tmp / "recipe.json").write_text(json.dumps(recipe, indent=1, sort_keys=True))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    (dest / "complete").touch()


def _build_tree(recipe, rootfs):
    mirror = host_debian_mirror() if recipe.get("mirror", "auto") == "auto" else recipe["mirror"]
    log(f"debootstrap {recipe['suite']} from {mirror} (takes minutes)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["debootstrap", f"--variant={recipe.get('variant', 'minbase')}",
         "--include=" + ",".join(recipe["packages"]),
         recipe["suite"], str(rootfs), mirror], env=env)
    for path, content in recipe.get("files", {}).items():
        target = rootfs / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    for argv in recipe.get("commands", []):
        # systemd-nspawn as a plain chroot: it mounts /proc, /sys and /dev for
        # the command and unmounts them after, and sees no network.
        run(["systemd-nspawn", "--quiet", "--register=no", "--keep-unit",
             "--private-network", "-D", str(rootfs), "--setenv=DEBIAN_FRONTEND=noninteractive",
             *[str(a) for a in argv]])
