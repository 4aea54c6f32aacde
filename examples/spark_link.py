"""Link two parties' records on Apache Spark with nislink.

Run locally (Spark local mode, both cores)::

    python examples/spark_link.py --n 5000 --out /tmp/nislink-links

or on a cluster (the nislink package and its dependencies must be installed on every
node, or shipped with ``--archives`` as a packed virtual environment)::

    spark-submit --master yarn --deploy-mode client \\
        --conf spark.sql.shuffle.partitions=400 \\
        --conf spark.executorEnv.NISLINK_SECRET=... \\
        examples/spark_link.py --master none --n 1000000 --out hdfs:///study/links

The data here are synthetic (:mod:`nislink.synth`) and the key is a public demo key.
In a real study each data owner encodes their own records with the shared secret and hands
over the encodings (:meth:`SparkEncoded.write`); the linkage unit reads them with
:func:`nislink.spark.read_encoded` and runs :func:`nislink.spark.link` without any secret.
"""

from __future__ import annotations

import argparse
import datetime as dt

import pandas as pd

from nislink import spark as ns
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

COLS = ["rid", "forename", "surname", "dob", "sex", "postcode", "nino", "upn"]


def _prep(df: pd.DataFrame, id_col: str) -> pd.DataFrame:
    df = df.rename(columns={id_col: "rid"})
    for c in ("nino", "upn"):
        if c not in df.columns:
            df = df.assign(**{c: None})
    df = df[COLS].astype(object)
    return df.where(df.notna(), None)


def main() -> None:
    """Encode two synthetic files on Spark, train a model on a sample, link, write Parquet."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="synthetic people")
    ap.add_argument("--master", default="local[2]", help="'none' under spark-submit")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--out", default=None, help="Parquet directory for the links")
    args = ap.parse_args()

    spark = ns.session(None if args.master == "none" else args.master,
                       shuffle_partitions=args.partitions)
    secret = Secret.from_bytes(bytes(range(32)))  # demo key: use Secret.from_env in practice
    study = generate_study(args.n, 7)
    schema = Schema.uk_default()
    today = dt.date.today()

    # data owners: encode (bits identical to nislink.Encoder)
    la = ns.encode(spark.createDataFrame(_prep(study.la, "la_id")), schema, secret,
                   id_column="rid", party="la", today=today)
    dwp = ns.encode(spark.createDataFrame(_prep(study.dwp, "dwp_id")), schema, secret,
                    id_column="rid", party="dwp", today=today)
    print("rejected rows:", la.rejects.count(), dwp.rejects.count())

    # linkage unit: u on a sample of up to 50,000 records a side; when a side is sampled, the
    # EM sessions and candidates are counted over the whole files (tiles on Spark)
    model = ns.fit_model(la, dwp, max_records=50_000, u_pairs=200_000)
    res = ns.link(la, dwp, model=model, min_weight=0.0)
    print(f"{res.candidates} candidate pairs")
    res.pairs.orderBy("match_weight", ascending=False).show(5, truncate=False)
    if args.out:
        res.write(args.out, mode="overwrite")
        print("links written to", args.out)
    spark.stop()


if __name__ == "__main__":
    main()
