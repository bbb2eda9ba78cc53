"""Assets of the verify page (``/verify``) and the audit console (``/audit``): templates, CSS, JS, font.

Why a folder of its own: these pages run in anyone's browser (the verify page without an API
key), so everything they need is here and served by this gateway: no CDN, and no system fonts
assumed (the Chinese UI ships ``static/AssayUISans-Regular.otf``, cut by ``make_font.py`` to the
characters the pages use).
"""
