# The seed's verify_log_integrity, as a script: prints True, or (False, line)
# for the first line that fails. Used by tests/seed_compat.rs and benches/verify.sh.
import hashlib, json, sys
def check(path):
    expected = "0" * 64
    with open(path, "r", encoding="utf-8") as f:
        n = 0
        while True:
            line = f.readline()
            if not line:
                return True
            n += 1
            line = line.strip()
            if not line or line.startswith("BLOCK_DATA:"):
                continue
            parts = line.split("|")
            if len(parts) != 3:
                return (False, n)
            prev, message, h = parts
            if prev != expected:
                return (False, n)
            block_line = f.readline()
            n += 1
            if not block_line.startswith("BLOCK_DATA:"):
                return (False, n)
            block_json = block_line[11:].strip()
            block = json.loads(block_json)
            if hashlib.sha256(block_json.encode("utf-8")).hexdigest() != h:
                return (False, n - 1)
            if block.get("prev_hash") != expected or block.get("message") != message:
                return (False, n - 1)
            expected = h
print(check(sys.argv[1]))
