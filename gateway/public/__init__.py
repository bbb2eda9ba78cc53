"""Assets of the public pages (``/verify``): templates, CSS, JS and the subset font they ship.

Why a folder of its own: these pages are served to anyone, without an API key, so everything they
need is here and served by this gateway (no CDN, no system fonts assumed: the Chinese UI ships
``static/AssayUISans-Regular.otf``, cut by ``make_font.py`` to the characters the pages use).
"""
