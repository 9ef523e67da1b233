import { IdleHistogram } from "../src/scaling/histogram.ts";
const h = new IdleHistogram();
for (let i = 0; i < 20; i++) h.record(29.9 * 60_000);
console.log(h.windows());
for (let k of [120_000, 600_000, 2_000_000]) { // check sweep vs brute
  const brute = (() => {
    let b = 0, bs = Infinity;
    for (let e = 1; e <= 240; e++) {
      const s = h.score(0, e * 60000, 600000).score;
      if (s < bs) {
        bs = s;
        b = e * 60000;
      }
    }
    return b;
  })();
  console.log(h.bestKeepAlive(0, 600000), brute);
}
const g = new IdleHistogram();
let r = 1;
const rnd = () => (r = (r * 16807) % 2147483647) / 2147483647;
for (let i = 0; i < 200; i++) g.record(rnd() < 0.8 ? 5000 : -Math.log(rnd()) * 3600_000);
console.log(
  g.windows(),
  g.bestKeepAlive(0, 600000),
  g.score(0, g.bestKeepAlive(0, 600000), 600000),
  g.score(0, 900000, 600000),
);
const bruteG = (p: number) => {
  let b = 0, bs = Infinity;
  for (let e = 1; e <= 240; e++) {
    if (e * 60000 <= p) continue;
    const s = g.score(p, e * 60000, 600000).score;
    if (s < bs) {
      bs = s;
      b = e * 60000;
    }
  }
  return b;
};
console.log(bruteG(0), g.bestKeepAlive(300000, 600000), bruteG(300000));
