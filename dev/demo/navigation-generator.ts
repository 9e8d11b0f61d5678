import type { Consent, Navigation } from '../../functions/topics/navigation';
import { SeededRandom } from './seeded-random';

const PATHS = ['/', '/shoes', '/shoes/running', '/cart', '/checkout', '/blog/spring-sale', '/account', '/search'];
const HOSTS = ['https://shop.example.com', 'https://m.shop.example.com'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
];
const GEOS = [
  { country: 'FR', city: 'Paris', lat: 48.8566, lon: 2.3522 },
  { country: 'DE', city: 'Berlin', lat: 52.52, lon: 13.405 },
  { country: 'US', city: null, lat: 37.751, lon: -97.822 },
];
const TAGS = ['promo', 'returning', 'mobile', 'newsletter', 'search'];
const CONSENTS: Consent[] = ['GRANTED', 'GRANTED', 'GRANTED', 'UNKNOWN', 'DENIED'];

/**
 * Realistic navigation events: a pool of cookies that come back (so a batch repeats cookies, as real traffic
 * does), some logged in, every field of the schema exercised.
 */
export function* navigationEvents(options: {
  seed: number;
  cookies: number;
  startTime: number;
}): Generator<Navigation> {
  const random = new SeededRandom(options.seed);
  let time = options.startTime;
  for (;;) {
    const cookie = random.int(options.cookies);
    time += random.int(50);
    const geo = random.pick(GEOS);
    yield {
      eventId: random.uuid(),
      eventTime: time,
      cookieId: `ck-${cookie.toString(36).padStart(6, '0')}`,
      userId: cookie % 3 === 0 ? `user-${cookie}` : null,
      url: `${random.pick(HOSTS)}${random.pick(PATHS)}?utm_source=${random.pick(['google', 'mail', 'direct'])}`,
      referrer: random.int(2) === 0 ? null : 'https://www.google.com/',
      userAgent: random.pick(AGENTS),
      ip: `10.${random.int(256)}.${random.int(256)}.${random.int(256)}`,
      geo: { ...geo },
      tags: TAGS.filter(() => random.int(3) === 0),
      attributes: { lang: random.pick(['fr', 'de', 'en']), screen: random.pick(['1920x1080', '390x844']) },
      consent: random.pick(CONSENTS),
    };
  }
}
