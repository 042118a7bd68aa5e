"""A llama.cpp server (the xllamacpp package) on loopback, for
scripts/real-model.sh: serves one GGUF model over the OpenAI wire format
until it gets SIGTERM or SIGINT.

usage: llama-server.py MODEL.gguf PORT THREADS CONTEXT PARALLEL

Prints `listening URL` on standard output once the model is loaded.
"""

import signal
import sys
import time

import xllamacpp


def main() -> int:
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    model, port, threads, context, parallel = sys.argv[1:]
    params = xllamacpp.CommonParams()
    params.model.path = model
    # Loopback only: nothing but this machine may reach the model.
    params.hostnames = ["127.0.0.1"]
    params.port = int(port)
    # One slot holds a case's whole conversation: the prompt, tool
    # results and the answer.
    params.n_parallel = int(parallel)
    params.n_ctx = int(context) * int(parallel)
    # On a shared 2-core machine more threads than cores free makes every
    # token wait for a descheduled thread: one thread measured 13 tokens/s,
    # two measured 1.1 tokens/s while other builds ran.
    params.cpuparams.n_threads = int(threads)
    params.cpuparams_batch.n_threads = int(threads)
    # The model's own chat template (tool calls) and no web UI.
    params.use_jinja = True
    params.ui = False
    server = xllamacpp.Server(params)
    print("listening", server.listening_address, flush=True)

    def stop(_signal, _frame):
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
