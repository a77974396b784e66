//! The smallest ELF file `cargo xtask deploy --artifacts` accepts as a function binary: a 64-bit
//! x86_64 header and a payload that tells versions apart. It needs no glibc at all.

pub fn x86_64(payload: &str) -> Vec<u8> {
    let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    elf.extend(2u16.to_le_bytes()); // e_type: executable
    elf.extend(62u16.to_le_bytes()); // e_machine: x86_64
    elf.extend(1u32.to_le_bytes()); // e_version
    elf.extend([0u8; 24]); // e_entry, e_phoff, e_shoff
    elf.extend(0u32.to_le_bytes()); // e_flags
    elf.extend(64u16.to_le_bytes()); // e_ehsize
    elf.extend(56u16.to_le_bytes()); // e_phentsize
    elf.extend(0u16.to_le_bytes()); // e_phnum
    elf.extend(64u16.to_le_bytes()); // e_shentsize
    elf.extend([0u8; 4]); // e_shnum, e_shstrndx
    elf.extend(payload.as_bytes());
    elf
}
