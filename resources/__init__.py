"""Files Gearshift ships beside its code: the icons, read through importlib.resources."""
