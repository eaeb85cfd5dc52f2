"""Writers: one Parquet file per table and split (zstd, dictionary encoding), and CSV / JSONL
copies when asked. Rows arrive in key order, batch by batch; each file is buffered up to ROW_GROUP_BYTES so
row groups stay large whatever the batch size."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from exports.tables import csv_columns

ROW_GROUP_BYTES = 4 * 1024 * 1024
ROW_GROUP_ROWS = 128_000


def csv_table(table: pa.Table) -> pa.Table:
    """The table as CSV can hold it (exports.tables.csv_columns): fixed-length lists spread over columns,
    lists of strings joined with "|", lists of structs as one JSON text cell."""
    arrays = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_fixed_size_list(kind):
            arrays.extend(pc.list_element(column, i) for i in range(kind.list_size))
        elif pa.types.is_list(kind) and pa.types.is_struct(kind.value_type):
            arrays.append(pa.array([json.dumps(v) for v in column.to_pylist()], pa.string()))
        elif pa.types.is_list(kind):
            arrays.append(pc.binary_join(column, "|"))
        else:
            arrays.append(column)
    return pa.table(arrays, names=csv_columns(table.schema))


def _json_default(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class FileWriter:
    """One file of one table and split, in one format."""

    def __init__(self, folder: Path, path: str, schema: pa.Schema, fmt: str):
        self.path, self.fmt, self.rows = path, fmt, 0
        full = folder / path
        full.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            # dictionary encoding for every column (ids and the repeated histogram values alike: measured
            # smaller files than ids only; Parquet falls back to plain pages where a dictionary grows too big)
            self.out = pq.ParquetWriter(full, schema, compression="zstd", use_dictionary=True)
        elif fmt == "csv":
            empty = csv_table(schema.empty_table())
            self.out = pacsv.CSVWriter(full, empty.schema)
        else:
            self.out = full.open("w", encoding="utf-8")

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if self.fmt == "parquet":
            self.out.write_table(table, row_group_size=ROW_GROUP_ROWS)
        elif self.fmt == "csv":
            self.out.write_table(csv_table(table))
        else:
            self.out.writelines(
                json.dumps(row, default=_json_default, ensure_ascii=False) + "\n" for row in table.to_pylist()
            )

    def close(self) -> None:
        self.out.close()


class TableWriter:
    """Every file of one table: a FileWriter per split and format, created up front (a split with no rows
    still gets its file, with the full schema), fed through a buffer per split."""

    def __init__(
        self, folder: Path, table: str, schema: pa.Schema, splits: tuple[str, ...], formats: list[str]
    ):
        self.table, self.schema, self.splits = table, schema, splits
        self.files = {
            split: [FileWriter(folder, f"data/{table}/{split}.{fmt}", schema, fmt) for fmt in formats]
            for split in splits
        }
        self.buffers: dict[str, list[pa.Table]] = {split: [] for split in splits}
        self.buffered = dict.fromkeys(splits, 0)

    def write(self, split: str, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self.buffers[split].append(table)
        self.buffered[split] += table.nbytes
        if (
            self.buffered[split] >= ROW_GROUP_BYTES
            or sum(t.num_rows for t in self.buffers[split]) >= ROW_GROUP_ROWS
        ):
            self._flush(split)

    def write_by_split(self, split_index: list[str] | tuple[str, ...], codes, table: pa.Table) -> None:
        """Rows of `table` to the split named by split_index[codes[row]] (codes: a numpy int array)."""
        for i, split in enumerate(split_index):
            mask = codes == i
            if mask.all():
                self.write(split, table)
            elif mask.any():
                self.write(split, table.filter(pa.array(mask)))

    def _flush(self, split: str) -> None:
        if not self.buffers[split]:
            return
        table = pa.concat_tables(self.buffers[split]).combine_chunks()
        for f in self.files[split]:
            f.write(table)
        self.buffers[split], self.buffered[split] = [], 0

    def close(self) -> list[FileWriter]:
        """Flush and close every file; returns them (path, format, rows)."""
        out = []
        for split in self.splits:
            self._flush(split)
            for f in self.files[split]:
                f.close()
                out.append(f)
        return out

    def abort(self) -> None:
        for files in self.files.values():
            for f in files:
                try:
                    f.close()
                except Exception:  # noqa: BLE001 - the folder is removed after a failure anyway
                    pass

    def rows(self, split: str) -> int:
        return self.files[split][0].rows + sum(t.num_rows for t in self.buffers[split])
