// `npm run migrate [up|down] [count]`: what DBAs and deploys run against DATABASE_URL.
import { migrate } from './migrate.ts';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('DATABASE_URL is not set: it must name the database to migrate (as its owner).');
  process.exit(2);
}
const [direction = 'up', count] = process.argv.slice(2);
if (direction !== 'up' && direction !== 'down') {
  console.error(`usage: npm run migrate [up|down] [count] (got "${direction}")`);
  process.exit(2);
}
await migrate(databaseUrl, {
  direction,
  count: count === undefined ? (direction === 'down' ? 1 : Infinity) : Number(count),
  log: (msg) => console.log(msg),
});
