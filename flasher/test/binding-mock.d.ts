// @serialport/binding-mock's package.json exports no "types" condition, so NodeNext finds no types;
// serial.test.ts declares the few members it uses.
declare module '@serialport/binding-mock';
