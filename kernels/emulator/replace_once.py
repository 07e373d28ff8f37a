"""Replaces the first occurrence of a text in a file, or exits naming the file when the text is not there: how
mutate.sh plants a fault in a kernel and standin/plant_faults.sh one in a C# launcher.
Usage: replace_once.py FILE OLD NEW"""
import sys

path, old, new = sys.argv[1:4]
text = open(path).read()
if old not in text:
    sys.exit(f"target not found in {path}: {old!r}")
open(path, 'w').write(text.replace(old, new, 1))
