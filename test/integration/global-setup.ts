import { loadStackConfig } from '../../dev/stack/config';
import { status } from '../../dev/stack/stack';

/** Fails the integration run at once, naming the unhealthy servers, instead of letting each test time out. */
export default async function setup() {
  const rows = await status(loadStackConfig());
  const down = rows.filter((row) => !row.healthy);
  if (down.length > 0) {
    throw new Error(
      `the local stack is not healthy (${down.map((row) => `${row.name}: ${row.detail}`).join('; ')}); run \`npm run stack -- up\``,
    );
  }
}
