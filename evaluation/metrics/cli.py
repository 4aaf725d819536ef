"""python -m evaluation fid | stats: the Frechet distance of two image folders or .npz statistics, and the
statistics of a folder."""
from __future__ import annotations

import argparse
import sys

from evaluation.arguments import fail


def _statistics_of(source: str, features: str, inception_weights: str | None):
    import pathlib

    from evaluation.metrics.features import extractor, image_features, load_statistics, statistics
    from evaluation.metrics.run_metrics import folder_images

    path = pathlib.Path(source)
    if path.suffix == ".npz":
        if not path.is_file():
            raise FileNotFoundError(f"no statistics file {path}")
        return (*load_statistics(path), None)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither an image folder nor an .npz of statistics")
    features = image_features(extractor(features, inception_weights), folder_images(path), _one_size_loader())
    return (*statistics(features), len(features))


def _one_size_loader():
    """file -> RGB image, refusing (one line naming the file) an image whose size differs from the first one's:
    features are computed in batches of one size, and silently resizing would change the statistics."""
    from models.safe_files import open_image

    first: list = []

    def load(file):
        image = open_image(file)
        if not first:
            first.append((file, image.size))
        elif image.size != first[0][1]:
            (name, (w, h)), (iw, ih) = first[0], image.size
            raise ValueError(f"{file} is {iw}x{ih} but {name} is {w}x{h}: every image of a folder must have one size")
        return image
    return load


def cmd_fid(args: argparse.Namespace) -> None:
    from evaluation.metrics.features import FeatureError
    from evaluation.metrics.fid import frechet_distance
    try:
        *first, n_a = _statistics_of(args.a, args.features, args.inception_weights)
        *second, n_b = _statistics_of(args.b, args.features, args.inception_weights)
        print(f"{frechet_distance(*first, *second):.6f}")
        _sample_note(n_a, n_b, len(first[0]))
    except (FeatureError, ValueError, OSError) as error:
        fail(error)


def _sample_note(n_a: int | None, n_b: int | None, dimension: int) -> None:
    """The sample counts beside the value (stderr: stdout stays the bare number scripts read)."""
    counts = " and ".join("statistics" if n is None else f"{n} images" for n in (n_a, n_b))
    small = [n for n in (n_a, n_b) if n is not None and n < dimension]
    warning = (f"; warning: fewer samples than the {dimension} feature dimensions, so the covariance is "
               f"rank-deficient and FID biased upward" if small else "")
    print(f"FID from {counts} ({dimension}-d features){warning}", file=sys.stderr)


def cmd_stats(args: argparse.Namespace) -> None:
    from evaluation.metrics.features import FeatureError, save_statistics
    try:
        mu, sigma, _ = _statistics_of(args.folder, args.features, args.inception_weights)
        save_statistics(args.out, mu, sigma)
    except (FeatureError, ValueError, OSError) as error:
        fail(error)
    print(f"wrote {args.out}: mu {mu.shape}, sigma {sigma.shape} ({args.features} features)")


def add_fid_and_stats(sub) -> None:
    for name, text in (("fid", "Frechet distance between two image folders or .npz statistics"),
                       ("stats", "write the FID statistics (.npz with mu, sigma) of an image folder")):
        p = sub.add_parser(name, help=text, description=text)
        if name == "fid":
            p.add_argument("a", help="image folder or .npz with mu and sigma (pytorch-fid's format)")
            p.add_argument("b", help="image folder or .npz with mu and sigma")
        else:
            p.add_argument("folder", help="image folder")
            p.add_argument("out", help="the .npz to write")
        p.add_argument("--features", choices=["world", "inception"], default="inception" if name == "fid" else "world",
                       help="feature extractor for image folders (default: %(default)s)")
        p.add_argument("--inception-weights", default=None, help="Inception-v3 FID weights file")
        p.set_defaults(run=cmd_fid if name == "fid" else cmd_stats)
