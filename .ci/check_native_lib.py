"""CI: the installed llama.cpp CPU library holds no instruction the portable build rules out (AMX, AVX-512)."""

import platform
import sys

from socialsim.llm.llamacpp_build import forbidden_instructions, installed_cpu_library

if platform.machine().lower() not in ("x86_64", "amd64"):
    print(f"portable-build check: nothing to check on {platform.machine()}")
    sys.exit(0)
library = installed_cpu_library()
hits = forbidden_instructions(library)
if hits:
    print(f"FAIL: {library} holds AMX or AVX-512 instructions (a build for the build machine's CPU?):")
    print("\n".join(f"  {h}" for h in hits))
    sys.exit(1)
print(f"portable-build check: {library.name} holds no AMX or AVX-512 instruction")
