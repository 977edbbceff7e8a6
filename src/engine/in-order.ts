/**
 * `work` on every item with up to `window` running ahead, `consume` on the results in order.
 * The first failure is thrown (later ones are ignored).
 */
export async function inOrder<T, R>(items: readonly T[], window: number, work: (item: T) => Promise<R>, consume: (result: R) => void): Promise<void> {
  const pending: Array<Promise<R>> = [];
  let next = 0;
  const launch = () => {
    while (next < items.length && pending.length < window) {
      const p = work(items[next++]);
      p.catch(() => undefined);
      pending.push(p);
    }
  };
  launch();
  while (pending.length) {
    consume(await pending.shift()!);
    launch();
  }
}
