"""Image checks (NSFW, faces, likeness) and the safe image decoder every image entry point shares."""
