/**
 * A value made on first use and kept: for the AWS SDK clients, whose modules take tens of milliseconds to load.
 * Loading them when a feature first needs them (not at module init) keeps a function's cold start short, and a
 * function that never uses Glue never loads the Glue client.
 */
export function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= make().catch((error: unknown) => {
      value = undefined; // a failed load is tried again next time
      throw error;
    });
    return value;
  };
}
