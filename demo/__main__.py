"""python -m demo [--port N] [--share] [--models a,b] [--host ADDRESS] [--device cpu|cuda|auto] [--planner rules|none|lm:PATH|chat:URL] [--runs DIR]"""
import argparse

import torch

from demo.app import build


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo", description="GenBench: every generator side by side.")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default 7860)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 to serve a network)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--models", default=None, help="comma-separated generator names, hub:<id-or-folder> too (default: every one with weights on disk)")
    parser.add_argument("--device", default="cpu", help="cpu (default) | cuda | auto (cuda when present)")
    parser.add_argument("--planner", default="rules",
                        help="rewrites prompts for the built-in models: rules (default) | none | lm:PATH | chat:URL[#MODEL]")
    parser.add_argument("--runs", default="runs", help="folder of evaluation runs for the Evaluation tab (default runs)")
    args = parser.parse_args()
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    names = [n.strip() for n in args.models.split(",") if n.strip()] if args.models else None
    app = build(names, device=device, planner=args.planner, runs=args.runs)
    app.launch(server_name=args.host, server_port=args.port, share=args.share)


if __name__ == "__main__":
    main()
