"""The corpus pickles the CLI corpus scripts (dis_corpus.py, convert_corpus.py) check: every one,
or every Nth when BRINE_CORPUS_STRIDE=N (the sanitizer build sets it: tools/CMakeLists.txt)."""

import glob
import os


def corpus_files(corpus):
    files = sorted(glob.glob(os.path.join(corpus, "**", "*.pkl"), recursive=True))
    stride = int(os.environ.get("BRINE_CORPUS_STRIDE", "1"))
    if stride > 1:
        print("every %dth corpus pickle (BRINE_CORPUS_STRIDE=%d): %d of %d"
              % (stride, stride, len(files[::stride]), len(files)))
    return files[::stride]
