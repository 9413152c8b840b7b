#!/usr/bin/python3
"""fsprobe.py - one file system call (or one open/write/fsync/close cycle) and
the errno it gave, for tests that must tell EINVAL from EEXIST from EROFS.

Prints "ok", or the failures as space-separated "STEP:ERRNO" words (for
example "close:EINVAL" or "fsync:EINVAL close:EINVAL"); exits 0 either way,
so a test asserts on the output. A bad command line exits 2.

usage: fsprobe.py OP ARGS...
  write PATH DATA [OPTS]   open, write DATA, close; DATA is text, @FILE for a
                           file's bytes, or =N for N bytes of 'x'
        OPTS: --mode w|x|a|r+ (default w: O_WRONLY|O_CREAT|O_TRUNC; x adds
              O_EXCL; r+ is O_RDWR with no O_TRUNC), --fsync (fsync before
              close), --chunk N (write in N-byte pieces)
  create PATH              open(O_WRONLY|O_CREAT|O_EXCL) and close, no write
  unlink PATH | rmdir PATH | mkdir PATH | rename OLD NEW
  truncate PATH LEN        truncate(2) by path
  ftruncate PATH LEN       open(O_WRONLY), ftruncate, close
  chmod PATH MODE(octal) | chown PATH (to the current uid/gid) | utime PATH
  read PATH                prints the bytes read (to stdout, as is), or the errno
"""
import errno
import os
import sys


def name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def data_of(spec):
    if spec.startswith("@"):
        with open(spec[1:], "rb") as f:
            return f.read()
    if spec.startswith("="):
        return b"x" * int(spec[1:])
    return spec.encode()


def do_write(path, data, mode="w", fsync=False, chunk=0):
    flags = {"w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
             "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
             "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
             "r+": os.O_RDWR}[mode]
    fails = []
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        return ["open:" + name(e)]
    try:
        off = 0
        step = chunk or len(data) or 1
        while off < len(data):
            off += os.write(fd, data[off:off + step])
    except OSError as e:
        fails.append("write:" + name(e))
    if fsync:
        try:
            os.fsync(fd)
        except OSError as e:
            fails.append("fsync:" + name(e))
    try:
        os.close(fd)
    except OSError as e:
        fails.append("close:" + name(e))
    return fails


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    op, path, rest = argv[1], argv[2], argv[3:]
    fails = []
    try:
        if op == "write":
            if not rest:
                sys.exit(__doc__)
            data, opts = data_of(rest[0]), rest[1:]
            mode, fsync, chunk = "w", False, 0
            while opts:
                o = opts.pop(0)
                if o == "--mode":
                    mode = opts.pop(0)
                elif o == "--fsync":
                    fsync = True
                elif o == "--chunk":
                    chunk = int(opts.pop(0))
                else:
                    sys.exit("unknown option " + o)
            fails = do_write(path, data, mode, fsync, chunk)
        elif op == "create":
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.close(fd)
            except OSError as e:
                fails.append("close:" + name(e))
        elif op == "unlink":
            os.unlink(path)
        elif op == "rmdir":
            os.rmdir(path)
        elif op == "mkdir":
            os.mkdir(path)
        elif op == "rename":
            os.rename(path, rest[0])
        elif op == "truncate":
            os.truncate(path, int(rest[0]))
        elif op == "ftruncate":
            fd = os.open(path, os.O_WRONLY)
            try:
                os.ftruncate(fd, int(rest[0]))
            except OSError as e:
                fails.append("ftruncate:" + name(e))
            try:
                os.close(fd)
            except OSError as e:
                fails.append("close:" + name(e))
        elif op == "chmod":
            os.chmod(path, int(rest[0], 8))
        elif op == "chown":
            os.chown(path, os.getuid(), os.getgid())
        elif op == "utime":
            os.utime(path, (1577836800, 1577836800))
        elif op == "read":
            with open(path, "rb") as f:
                sys.stdout.buffer.write(f.read())
            return
        else:
            sys.exit("unknown op " + op)
    except OSError as e:
        fails.append(name(e))
    print(" ".join(fails) if fails else "ok")


if __name__ == "__main__":
    main(sys.argv)
