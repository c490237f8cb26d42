#!/usr/bin/env python3
"""Stand-ins for the CUDA libraries a `--features cuda` build links, for linking on a machine
without them (scripts/prepare-gpu-check.sh): each is a shared library with the real one's name
and soname whose functions do nothing; where the binary runs, the loader finds the real
libraries by those sonames instead (as a CUDA toolkit's own lib/stubs/libcuda.so is used).

    cuda-stubs.py DIR CUDA_LIB_DIR                 empty stand-ins, so the linker can list what it lacks
    LINKER_OUTPUT | cuda-stubs.py DIR CUDA_LIB_DIR --from-linker
                                                   stand-ins defining every symbol the linker
                                                   reported missing, by library

CUDA_LIB_DIR holds the real CUDA runtime (libcudart.so.13, from NVIDIA's PyPI wheel): it is
linked as it is, not stood in for.
"""
import os
import re
import subprocess
import sys
import tempfile

# (file the linker looks for, soname of CUDA 13's library, the symbols that are its own)
LIBRARIES = [
    ("libcuda.so", "libcuda.so.1", re.compile(r"^cu[A-Z]")),
    ("libcublasLt.so", "libcublasLt.so.13", re.compile(r"^cublasLt")),
    ("libcublas.so", "libcublas.so.13", re.compile(r"^cublas(?!Lt)")),
    ("libcurand.so", "libcurand.so.10", re.compile(r"^curand")),
    ("libnvrtc.so", "libnvrtc.so.13", re.compile(r"^nvrtc")),
]
# GNU ld's and lld's words for it.
MISSING = re.compile(r"(?:undefined reference to `|undefined symbol: )([A-Za-z_][A-Za-z0-9_]*)")


def build(out_dir, file, soname, symbols):
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as c:
        c.write("/* stand-in: the real library is loaded where the binary runs */\n")
        for s in sorted(symbols):
            c.write(f"int {s}(void) {{ return 999; }}\n")
    subprocess.run(["cc", "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o",
                    os.path.join(out_dir, file), c.name], check=True)
    os.unlink(c.name)
    # By its soname too, to try a binary here (LD_LIBRARY_PATH=DIR): no GPU, so the CPU.
    link = os.path.join(out_dir, soname)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(file, link)


def main():
    out_dir, cuda_lib = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    missing = set()
    if "--from-linker" in sys.argv:
        missing = set(MISSING.findall(sys.stdin.read()))
    for file, soname, own in LIBRARIES:
        build(out_dir, file, soname, {s for s in missing if own.match(s)})
    cudart = os.path.join(out_dir, "libcudart.so")
    if os.path.lexists(cudart):
        os.unlink(cudart)
    os.symlink(os.path.join(cuda_lib, "libcudart.so.13"), cudart)
    unknown = sorted(s for s in missing if not any(own.match(s) for _, _, own in LIBRARIES))
    if unknown:
        sys.exit(f"cuda-stubs: no library known for {', '.join(unknown)}")
    print(f"cuda-stubs: {len(missing)} symbols in {len(LIBRARIES)} stand-ins in {out_dir}")


if __name__ == "__main__":
    main()
