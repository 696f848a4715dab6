"""Packs installed pure-Python distributions into wheels (an offline wheelhouse for build backends)."""
import base64, hashlib, importlib.metadata as md, os, re, sys, zipfile

PACKAGES = {"hatchling": ["hatchling"], "packaging": ["packaging"], "pathspec": ["pathspec"],
            "pluggy": ["pluggy"], "trove-classifiers": ["trove_classifiers"], "poetry-core": ["poetry/core"],
            "editables": ["editables"]}

def record_line(arc, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arc, digest, len(data))

def pack(name, out):
    dist = md.distribution(name)
    version = dist.version
    norm = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    info = "%s-%s.dist-info" % (norm, version)
    site = str(dist.locate_file(""))
    files = []
    for top in PACKAGES[name]:
        root = os.path.join(site, top)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for f in filenames:
                if not f.endswith((".pyc", ".pyo")):
                    path = os.path.join(dirpath, f)
                    files.append((os.path.relpath(path, site), open(path, "rb").read()))
    metadata = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    # Debian has no python3-editables; hatchling needs it only for editable installs.
    metadata = "".join(l for l in metadata.splitlines(True) if not l.startswith("Requires-Dist: editables"))
    files.append((info + "/METADATA", metadata.encode()))
    ep = dist.read_text("entry_points.txt")
    if ep:
        files.append((info + "/entry_points.txt", ep.encode()))
    files.append((info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: stigmer-lab\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    record = [record_line(a, d) for a, d in files] + [info + "/RECORD,,"]
    whl = os.path.join(out, "%s-%s-py3-none-any.whl" % (norm, version))
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in files:
            z.writestr(arc, data)
        z.writestr(info + "/RECORD", "\n".join(record) + "\n")
    print(whl, [l for l in metadata.splitlines() if l.startswith("Requires-Dist")])

os.makedirs(sys.argv[1], exist_ok=True)
for name in sys.argv[2:]:
    pack(name, sys.argv[1])
