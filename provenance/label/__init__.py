"""The visible label (`label.visible`) and the metadata label (`label.metadata`), with the XMP and font they
need."""
