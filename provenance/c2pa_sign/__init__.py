"""C2PA signing and reading (named ``c2pa_sign`` so it never shadows the ``c2pa`` library)."""
