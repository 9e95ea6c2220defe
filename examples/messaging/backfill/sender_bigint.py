"""A Python backfill: copy messages.sender_id into sender_id_big (0007), computing in Python.

    migrator backfill run copy-sender --table messages --function sender_bigint:copy_sender

(run from this folder, or with it on PYTHONPATH)
"""


def copy_sender(connection, low, high):
    """Rows with low < id <= high (low is None for the first batch); returns the rows changed."""
    rows = connection.execute(
        "SELECT id, sender_id FROM messages WHERE (%s::bigint IS NULL OR id > %s::bigint) AND id <= %s::bigint "
        "AND sender_id_big IS NULL",
        (low and low[0], low and low[0], high[0]),
    ).fetchall()
    with connection.cursor() as cursor:
        cursor.executemany("UPDATE messages SET sender_id_big = %s WHERE id = %s",
                           [(int(sender_id), identifier) for identifier, sender_id in rows])
    return len(rows)
