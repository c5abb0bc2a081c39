// `npm run migrate [up|down] [count]`: what DBAs and deploys run, as the schema owner.
import { migrate } from './migrate.ts';

// Not DATABASE_URL: that is the service's own login (checkout_app), which may not change the schema.
const databaseUrl = process.env.DATABASE_OWNER_URL;
if (!databaseUrl) {
  console.error('DATABASE_OWNER_URL is not set: it must name the database to migrate, logged in as its owner (a role that may create schemas and roles).');
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
