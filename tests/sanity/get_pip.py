"""Stand-in for the get-pip.py script that ansible-test downloads from a host
our machines cannot reach. ansible-test runs it inside each fresh sanity
virtualenv with pip's install arguments; this installs pip from the Python's
bundled ensurepip wheel, then the requested packages from the package index."""

import subprocess
import sys

IGNORED = ("--no-setuptools", "--no-wheel")  # get-pip.py options that plain pip does not know


def main():
    arguments = [argument for argument in sys.argv[1:] if argument not in IGNORED]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + arguments)


if __name__ == "__main__":
    main()
