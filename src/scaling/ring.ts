/** A bounded log for the scaler's decisions. */

/** The newest `capacity` items, read oldest first; a push at capacity overwrites the oldest. */
export class Ring<T> {
  private readonly items: T[] = [];
  private oldest = 0;
  constructor(private readonly capacity: number) {}
  push(item: T) {
    if (this.items.length < this.capacity) this.items.push(item);
    else {
      this.items[this.oldest] = item;
      this.oldest = (this.oldest + 1) % this.capacity;
    }
  }
  toArray(): T[] {
    return this.oldest === 0
      ? this.items.slice()
      : [...this.items.slice(this.oldest), ...this.items.slice(0, this.oldest)];
  }
}
